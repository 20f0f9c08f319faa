package ippool

import (
	"slices"
	"strings"
	"testing"
)

func TestParseSubnet(t *testing.T) {
	for _, c := range []struct {
		in, err string
	}{
		{"198.18.10.0/24", ""},
		{"198.18.10.0/30", ""},
		{"198.18.0.0/16", ""},
		{"198.18.10.4/30", ""},
		{"198.18.10.5/24", "has host bits set: the network is 198.18.10.0/24"},
		{"198.18.10.0/31", "A network with only 2 host(s) is too small, please specify at least a /30 network"},
		{"198.18.10.1/32", "A network with only 1 host(s) is too small"},
		{"198.16.0.0/15", "A big network with 131072 host(s) is currently not supported. please specify at most a /16 network"},
		{"198.18.10.0", "is not a valid IPv4 network"},
		{"2001:db8::/64", "is not a valid IPv4 network"},
		{"foo", "is not a valid IPv4 network"},
	} {
		_, err := ParseSubnet(c.in)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("ParseSubnet(%q) = %v, want %q", c.in, err, c.err)
		}
	}
	for _, c := range []struct {
		in, err string
	}{
		{"2001:db8:1::/64", ""},
		{"2001:db8:1::1/64", "has host bits set"},
		{"198.18.10.0/24", "is not a valid IPv6 network"},
		{"::ffff:198.18.10.0/120", "is not a valid IPv6 network"},
	} {
		_, err := ParseSubnet6(c.in)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("ParseSubnet6(%q) = %v, want %q", c.in, err, c.err)
		}
	}
}

// TestInit checks a new pool: network, broadcast and gateway externally
// reserved, counts and the usage map, for the smallest and a usual subnet.
func TestInit(t *testing.T) {
	for _, c := range []struct {
		subnet, gateway string
		err             string
		size, free      int
		ext             []string
		mapHead         string
		first           string // the first address Allocate gives
	}{
		{subnet: "198.18.10.0/30", size: 4, free: 2, ext: []string{"198.18.10.0", "198.18.10.3"}, mapHead: "X..X", first: "198.18.10.1"},
		{subnet: "198.18.10.4/30", gateway: "198.18.10.5", size: 4, free: 1, ext: []string{"198.18.10.4", "198.18.10.5", "198.18.10.7"}, mapHead: "XX.X", first: "198.18.10.6"},
		{subnet: "198.18.10.0/24", gateway: "198.18.10.1", size: 256, free: 253, ext: []string{"198.18.10.0", "198.18.10.1", "198.18.10.255"}, mapHead: "XX..", first: "198.18.10.2"},
		{subnet: "198.18.10.0/24", gateway: "198.18.10.254", size: 256, free: 253, ext: []string{"198.18.10.0", "198.18.10.254", "198.18.10.255"}, mapHead: "X...", first: "198.18.10.1"},
		{subnet: "198.18.0.0/16", size: 65536, free: 65534, ext: []string{"198.18.0.0", "198.18.255.255"}, mapHead: "X...", first: "198.18.0.1"},
		{subnet: "198.18.10.0/24", gateway: "198.18.11.1", err: "gateway 198.18.11.1 is not inside 198.18.10.0/24"},
		{subnet: "198.18.10.0/24", gateway: "198.18.10.0", err: "is the network's network address"},
		{subnet: "198.18.10.0/24", gateway: "198.18.10.255", err: "is the network's broadcast address"},
		{subnet: "198.18.10.0/24", gateway: "nope", err: "is not inside"},
	} {
		p, err := Init(c.subnet, c.gateway)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Init(%s, %s) = %v, want %q", c.subnet, c.gateway, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Init(%s, %s): %v", c.subnet, c.gateway, err)
		}
		if p.Size() != c.size || p.FreeCount() != c.free || p.ReservedCount() != c.size-c.free {
			t.Errorf("%s: size %d free %d reserved %d", c.subnet, p.Size(), p.FreeCount(), p.ReservedCount())
		}
		if got := p.ExternalAddrs(); !slices.Equal(got, c.ext) {
			t.Errorf("%s: external %v, want %v", c.subnet, got, c.ext)
		}
		if m := p.Map(); len(m) != c.size || !strings.HasPrefix(m, c.mapHead) || strings.Count(m, "X") != c.size-c.free {
			t.Errorf("%s: map %q", c.subnet, m)
		}
		if len(p.Reservations()) != c.size || strings.Contains(p.Reservations(), "1") {
			t.Errorf("%s: reservations %q", c.subnet, p.Reservations())
		}
		if ip, err := p.Allocate(); err != nil || ip != c.first {
			t.Errorf("%s: first allocation %s, %v; want %s", c.subnet, ip, err, c.first)
		}
	}
}

// TestAllocate fills a /30 and a /24, releases, and reallocates: always the
// lowest free address, never a reserved one, until the pool is full.
func TestAllocate(t *testing.T) {
	p, err := Init("198.18.10.0/30", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 2 {
		ip, err := p.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ip)
	}
	if !slices.Equal(got, []string{"198.18.10.1", "198.18.10.2"}) {
		t.Errorf("allocated %v", got)
	}
	if _, err := p.Allocate(); err == nil || err.Error() != "198.18.10.0/30 is full" {
		t.Errorf("full pool: %v", err)
	}
	if p.FreeCount() != 0 || p.Map() != "XXXX" || p.Reservations() != "0110" || p.External() != "1001" {
		t.Errorf("full: free %d map %s res %s ext %s", p.FreeCount(), p.Map(), p.Reservations(), p.External())
	}
	if err := p.Release("198.18.10.1", false); err != nil {
		t.Fatal(err)
	}
	if ip, _ := p.Allocate(); ip != "198.18.10.1" {
		t.Errorf("after release: %s", ip)
	}

	p, _ = Init("198.18.10.0/24", "198.18.10.1")
	for _, ip := range []string{"198.18.10.2", "198.18.10.3", "198.18.10.5"} {
		if err := p.Reserve(ip, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Reserve("198.18.10.4", false); err != nil {
		t.Fatal(err)
	}
	if ip, _ := p.Allocate(); ip != "198.18.10.6" {
		t.Errorf("around reservations: %s", ip)
	}
	if got := p.HeldAddrs(); !slices.Equal(got, []string{"198.18.10.4", "198.18.10.6"}) {
		t.Errorf("held %v", got)
	}
	if p.FreeCount() != 256-8 || !strings.HasPrefix(p.Map(), "XXXXXXX.") {
		t.Errorf("free %d map %s", p.FreeCount(), p.Map()[:10])
	}
}

func TestReserveRelease(t *testing.T) {
	p, _ := Init("198.18.10.0/24", "198.18.10.1")
	for _, c := range []struct {
		op       string // reserve, release
		ip       string
		external bool
		err      string
	}{
		{"reserve", "198.18.10.1", true, "IP 198.18.10.1 is already externally reserved"},
		{"reserve", "198.18.10.0", true, "IP 198.18.10.0 is already externally reserved"},
		{"reserve", "198.18.10.9", false, ""},
		{"reserve", "198.18.10.9", false, "IP 198.18.10.9 is already used by an instance"},
		{"reserve", "198.18.10.9", true, ""}, // both maps may mark it (an imported pool)
		{"release", "198.18.10.9", true, ""},
		{"release", "198.18.10.9", true, "IP 198.18.10.9 is not externally reserved"},
		{"release", "198.18.10.9", false, ""},
		{"release", "198.18.10.9", false, "IP 198.18.10.9 is not used by an instance"},
		{"reserve", "198.18.11.9", false, "198.18.10.0/24 does not contain 198.18.11.9"},
		{"reserve", "2001:db8::1", false, "does not contain 2001:db8::1"},
		{"reserve", "x", false, "'x' is not a valid IP address"},
	} {
		var err error
		if c.op == "reserve" {
			err = p.Reserve(c.ip, c.external)
		} else {
			err = p.Release(c.ip, c.external)
		}
		if c.err == "" && err != nil || c.err != "" && (err == nil || err.Error() != c.err && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s %s (external %v) = %v, want %q", c.op, c.ip, c.external, err, c.err)
		}
	}
	if !p.Contains("198.18.10.200") || p.Contains("198.18.11.1") || p.Contains("") {
		t.Error("Contains")
	}
	if !p.IsNetworkOrBroadcast("198.18.10.255") || p.IsNetworkOrBroadcast("198.18.10.1") {
		t.Error("IsNetworkOrBroadcast")
	}
}

// TestNew reads stored maps, Ganeti's as they are, and refuses broken ones.
func TestNew(t *testing.T) {
	ext := "1" + strings.Repeat("0", 254) + "1"
	p, err := New("203.0.113.0/24", "", ext)
	if err != nil {
		t.Fatal(err)
	}
	if p.FreeCount() != 254 || !slices.Equal(p.ExternalAddrs(), []string{"203.0.113.0", "203.0.113.255"}) {
		t.Errorf("imported: free %d ext %v", p.FreeCount(), p.ExternalAddrs())
	}
	// Ganeti #1124: the external reservations are the map's own addresses.
	ext = "1111" + strings.Repeat("0", 38) + "1" + strings.Repeat("0", 212) + "1"
	p, _ = New("198.18.2.0/24", "", ext)
	if got := p.ExternalAddrs(); !slices.Equal(got, []string{"198.18.2.0", "198.18.2.1", "198.18.2.2", "198.18.2.3", "198.18.2.42", "198.18.2.255"}) {
		t.Errorf("external %v", got)
	}
	for _, bad := range []string{"0101", strings.Repeat("2", 256)} {
		if _, err := New("198.18.2.0/24", bad, ""); err == nil || !strings.Contains(err.Error(), "not a map of its 256 addresses") {
			t.Errorf("map %q: %v", bad[:4], err)
		}
	}
}
