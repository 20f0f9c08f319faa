package view

import (
	"strings"
	"testing"
)

func TestNetworkInfo(t *testing.T) {
	s := func(v string) *string { return &v }
	usage := "XXX" + strings.Repeat(".", 60) + "X" + strings.Repeat(".", 64) + strings.Repeat(".", 127) + "X"
	checkResult(t, "network_info", NetworkInfos{
		{Name: "test", UUID: "00000006-0000-0000-0000-000000000006", Serial: 3, Subnet: s("198.18.10.0/24"), Gateway: s("198.18.10.1"),
			MACPrefix: s("aa:00:10"), Pool: true, FreeCount: 251, ReservedCount: 5, Map: usage,
			ExternalReservations: []string{"198.18.10.0", "198.18.10.1", "198.18.10.63", "198.18.10.100", "198.18.10.101", "198.18.10.102", "198.18.10.255"},
			Groups:               []NetworkGroup{{Name: "default", Mode: "bridged", Link: "br100", VLAN: ".100"}},
			Instances:            []NetworkInstance{{Name: "inst1", NICs: []NetworkNIC{{Index: 0, IP: "198.18.10.2"}, {Index: 2}}}}},
		{Name: "tiny", UUID: "00000007-0000-0000-0000-000000000007", Serial: 1, Subnet: s("198.18.12.0/30"), Pool: true,
			FreeCount: 2, ReservedCount: 2, Map: "X..X", ExternalReservations: []string{"198.18.12.0", "198.18.12.3"},
			Groups: []NetworkGroup{}, Instances: []NetworkInstance{}},
		{Name: "v6", UUID: "00000008-0000-0000-0000-000000000008", Serial: 1, Subnet6: s("2001:db8:20::/64"), Gateway6: s("fe80::1"),
			ExternalReservations: []string{}, Groups: []NetworkGroup{}, Instances: []NetworkInstance{}},
	})
	assertResult(t, NetworkInfos(nil), "", "[]\n")
}

func TestWrapWords(t *testing.T) {
	got := wrapWords("198.18.10.0, 198.18.10.1, 198.18.10.63, 198.18.10.100, 198.18.10.101, 198.18.10.102", 64)
	if len(got) != 2 || got[0] != "198.18.10.0, 198.18.10.1, 198.18.10.63, 198.18.10.100," || got[1] != "198.18.10.101, 198.18.10.102" {
		t.Errorf("%q", got)
	}
}
