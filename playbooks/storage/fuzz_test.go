package storage

import "testing"

// Node tool output is untrusted input: the parsers must never panic.
func FuzzParsers(f *testing.F) {
	for _, s := range []string{
		"  xenvg|a.disk0|1024.00|-wi-a-----|originstname+i1\n",
		"@@lvs\n! x\n@@files\n12 /a/b/c\n@@rbd\nx\n@@rbdmapped\n0 p i - /dev/rbd0\n@@volumes-end\n",
		`{"1":{"pool":"rbd","name":"x","snap":"-","device":"/dev/rbd1"}}`,
		`[{"pool":"rbd","name":"x","snap":"-","device":"/dev/rbd1"}]`,
		"id pool image snap device\n1 rbd x - /dev/rbd1\n",
		"a|1|/dev/sda(0),/dev/sdb(3)|vg\n",
		"/dev/sda|1|2|3|a--\n", "<|B|k|", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseLVs(b)
		ParseLVReport(b, ";", lvsLVFields)
		ParseFiles(b)
		ParseVolumes(b)
		ParseShowmapped(b)
		ParseNodeVolumes(b)
		for _, typ := range []string{StorageLVMPV, StorageLVMVG, StorageFile} {
			ParseStorage("n", typ, b)
		}
		VGReduceNeedsForce(b)
		VGConsistent(b, "xenvg")
	})
}

// Names are untrusted too: whatever the validators accept must be safe to
// put in an argv position (no leading "-", no "/" or ".." in LVM names).
func FuzzValidateLVMName(f *testing.F) {
	for _, s := range []string{"xenvg", "a;b", "../x", "-x", "snapshot", "x_mlog"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateLVMName("LV", s) == nil {
			if s == "" || s[0] == '-' || s == "." || s == ".." {
				t.Fatalf("accepted %q", s)
			}
			for _, c := range s {
				if c == '/' || c == ' ' || c == ';' || c == '$' {
					t.Fatalf("accepted %q", s)
				}
			}
		}
	})
}
