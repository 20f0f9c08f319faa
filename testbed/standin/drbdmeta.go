package standin

import (
	"fmt"
	"io"
	"strconv"
)

// drbdmeta supports what Ganeti runs:
//
//	drbdmeta [--force] /dev/drbdM v08 META (flex-external|internal|N) create-md
//	drbdmeta [--force] /dev/drbdM v08 META (flex-external|internal|N) apply-al
//
// plus wipe-md and dump-md for debugging. The metadata is the stand-in's own
// header (see metaHeader); a fresh one means Inconsistent data.
func (r *Root) drbdmeta(args []string, stdout, stderr io.Writer) int {
	force := false
	var pos []string
	for _, a := range args {
		switch a {
		case "--force", "-f":
			force = true
		case "--ignore-sanity-checks", "--verbose", "-v":
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 5 {
		fmt.Fprintf(stderr, "USAGE: drbdmeta [--force] DEVICE FORMAT [FORMAT ARGS...] COMMAND [CMD ARGS...]\n")
		return 20
	}
	dev, format, meta, idx, cmd := pos[0], pos[1], pos[2], pos[3], pos[4]
	if format != "v08" && format != "v09" {
		fmt.Fprintf(stderr, "Unknown meta-data format '%s'\n", format)
		return 20
	}
	if idx != "flex-external" && idx != "internal" && idx != "flex-internal" {
		if _, err := strconv.Atoi(idx); err != nil {
			fmt.Fprintf(stderr, "invalid meta-data index '%s'\n", idx)
			return 20
		}
	}
	minor, err := parseMinor(dev)
	if err != nil {
		fmt.Fprintf(stderr, "%v", err)
		return 20
	}
	if err := openBlock(meta); err != nil {
		fmt.Fprint(stderr, err.Error())
		return 20
	}
	switch cmd {
	case "create-md", "wipe-md":
		if st, err := r.snapshotState(); err == nil {
			if m := st.Minors[minor]; m != nil && m.Disk != nil {
				fmt.Fprintf(stderr, "Device '%d' is configured!\n", minor)
				return 20
			}
		}
		if _, err := readMeta(meta); err == nil && !force {
			fmt.Fprintf(stderr, "There appears to be a v08 meta data block already in place on %s.\nOperation canceled.\n", meta)
			return 20
		}
		h := metaHeader{Disk: dsInconsistent}
		if cmd == "wipe-md" {
			if err := wipeMeta(meta); err != nil {
				fmt.Fprintf(stderr, "%v\n", err)
				return 20
			}
			fmt.Fprintln(stderr, "Wiping meta data...")
			return 0
		}
		if err := writeMeta(meta, h); err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return 20
		}
		fmt.Fprintln(stderr, "initializing activity log\nNOT initializing bitmap\nWriting meta data...")
		fmt.Fprintln(stdout, "New drbd meta data block successfully created.")
		return 0
	case "apply-al":
		if _, err := readMeta(meta); err != nil {
			fmt.Fprintf(stderr, "No valid meta data found\n")
			return 255
		}
		return 0
	case "dump-md":
		h, err := readMeta(meta)
		if err != nil {
			fmt.Fprintf(stderr, "No valid meta data found\n")
			return 255
		}
		fmt.Fprintf(stdout, "# DRBD meta data (testbed stand-in)\nversion \"v08\";\ndisk-state %s;\nuuid %s;\n", h.Disk, h.UUID)
		return 0
	}
	fmt.Fprintf(stderr, "Unknown command '%s'.\n", cmd)
	return 20
}

func wipeMeta(path string) error {
	return writeFileRange(path, make([]byte, metaBlock))
}
