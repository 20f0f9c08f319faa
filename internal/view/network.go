package view

import (
	"fmt"
	"io"
	"strings"
)

// NetworkInfo is one network of `network info`, in the shape of Ganeti's
// gnt-network info: the settings, the pool's size, free count and usage
// map (X used, . free, 64 addresses a line), the externally reserved
// addresses, the groups connected with their NIC parameters and the
// instances whose NICs are in it. Its JSON keys are Ganeti's query
// fields. Optional settings are nil when unset (None in the text).
type NetworkInfo struct {
	Name      string  `json:"name"`
	UUID      string  `json:"uuid"`
	Serial    int64   `json:"serial_no"`
	Subnet    *string `json:"network"`
	Gateway   *string `json:"gateway"`
	Subnet6   *string `json:"network6"`
	Gateway6  *string `json:"gateway6"`
	MACPrefix *string `json:"mac_prefix"`
	// Pool is false for an IPv6-only network: no size, map or reservations.
	Pool                 bool              `json:"-"`
	FreeCount            int               `json:"free_count"`
	ReservedCount        int               `json:"reserved_count"`
	Map                  string            `json:"map"`
	ExternalReservations []string          `json:"external_reservations"`
	Groups               []NetworkGroup    `json:"group_list"`
	Instances            []NetworkInstance `json:"instances"`
}

// NetworkGroup is a group a network is connected to, with the NIC
// parameters its NICs get there.
type NetworkGroup struct {
	Name string `json:"name"`
	Mode string `json:"mode"`
	Link string `json:"link"`
	VLAN string `json:"vlan"`
}

// NetworkInstance is an instance with NICs in the network: their indexes
// and addresses ("" for none).
type NetworkInstance struct {
	Name string       `json:"name"`
	NICs []NetworkNIC `json:"nics"`
}

// NetworkNIC is one NIC of an instance in a network.
type NetworkNIC struct {
	Index int    `json:"index"`
	IP    string `json:"ip,omitempty"`
}

// NetworkInfos are several networks' info, each after the other.
type NetworkInfos []NetworkInfo

// Text writes each network as gnt-network info does.
func (ns NetworkInfos) Text(w io.Writer) error {
	for _, n := range ns {
		if err := n.Text(w); err != nil {
			return err
		}
	}
	return nil
}

// MarshalJSON is the list, [] when empty.
func (ns NetworkInfos) MarshalJSON() ([]byte, error) { return marshalRaw(nonNil([]NetworkInfo(ns))) }

func none(s *string) string {
	if s == nil || *s == "" {
		return "None"
	}
	return *s
}

// Text writes Ganeti's layout.
func (n NetworkInfo) Text(w io.Writer) error {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	p("Network name: %s", n.Name)
	p("UUID: %s", n.UUID)
	p("Serial number: %d", n.Serial)
	p("  Subnet: %s", none(n.Subnet))
	p("  Gateway: %s", none(n.Gateway))
	p("  IPv6 Subnet: %s", none(n.Subnet6))
	p("  IPv6 Gateway: %s", none(n.Gateway6))
	p("  Mac Prefix: %s", none(n.MACPrefix))
	if n.Pool {
		size := n.FreeCount + n.ReservedCount
		p("  Size: %d", size)
		p("  Free: %d (%.2f%%)", n.FreeCount, 100*float64(n.FreeCount)/float64(max(size, 1)))
		p("  Usage map:")
		for i := 0; i < len(n.Map); i += 64 {
			line := n.Map[i:min(i+64, len(n.Map))]
			p("     %4d %-64s %d", i, line, i+63)
		}
		p("         (X) used    (.) free")
	} else {
		p("  No IPv4 pool (an IPv6-only network)")
	}
	if len(n.ExternalReservations) > 0 {
		p("  externally reserved IPs:")
		for _, l := range wrapWords(strings.Join(n.ExternalReservations, ", "), 64) {
			p("    %s", l)
		}
	}
	if len(n.Groups) > 0 {
		p("  connected to node groups:")
		for _, g := range n.Groups {
			p("    %s (mode:%s link:%s vlan:%s)", g.Name, g.Mode, g.Link, g.VLAN)
		}
	} else {
		p("  not connected to any node group")
	}
	if len(n.Instances) > 0 {
		p("  used by %d instances:", len(n.Instances))
		for _, in := range n.Instances {
			nics := make([]string, len(in.NICs))
			for i, nic := range in.NICs {
				ip := nic.IP
				if ip == "" {
					ip = "None"
				}
				nics[i] = fmt.Sprintf("%d:%s", nic.Index, ip)
			}
			p("    %s: %s", in.Name, strings.Join(nics, ", "))
		}
	} else {
		p("  not used by any instances")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// wrapWords breaks s at spaces into lines of at most width characters
// (Python's textwrap.wrap, which Ganeti uses), a longer word on its own.
func wrapWords(s string, width int) []string {
	var out []string
	cur := ""
	for _, word := range strings.Fields(s) {
		switch {
		case cur == "":
			cur = word
		case len(cur)+1+len(word) <= width:
			cur += " " + word
		default:
			out = append(out, cur)
			cur = word
		}
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}
