// Package ippool is the IPv4 address pool of a Ganeti network: two maps of
// the subnet, one character per address, "1" where the address is taken.
// Reservations marks the addresses instances hold, external reservations
// those reserved outside the pool's allocation (the network and broadcast
// addresses, the gateway, the nodes' addresses, --add-reserved-ips). The
// maps are Ganeti's own format (config.data's "reservations" and
// "ext_reservations"), so imported networks keep their pools.
//
// A Pool is a value to compute with: planners copy the network, change its
// pool and record the network's new maps as a state change.
package ippool

import (
	"fmt"
	"net/netip"
	"strings"
)

// Ganeti's bounds on the subnet: a /30 at least (two usable addresses), a
// /16 at most (the maps are one character per address).
const (
	MinPrefixLen = 16
	MaxPrefixLen = 30
)

// Error is a pool operation refused (Ganeti's AddressPoolError).
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorf(format string, a ...any) error { return &Error{fmt.Sprintf(format, a...)} }

// ParseSubnet reads an IPv4 subnet in CIDR notation, as a network address
// (no host bits) within Ganeti's size bounds.
func ParseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, errorf("'%s' is not a valid IPv4 network in CIDR notation (e.g. 198.18.10.0/24)", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, errorf("%s has host bits set: the network is %s", s, p.Masked())
	}
	if p.Bits() < MinPrefixLen {
		return netip.Prefix{}, errorf("A big network with %d host(s) is currently not supported. please specify at most a /%d network", size(p), MinPrefixLen)
	}
	if p.Bits() > MaxPrefixLen {
		return netip.Prefix{}, errorf("A network with only %d host(s) is too small, please specify at least a /%d network", size(p), MaxPrefixLen)
	}
	return p, nil
}

// ParseSubnet6 reads an IPv6 subnet in CIDR notation (no pool: IPv6
// addresses are derived from the MAC, or given).
func ParseSubnet6(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() {
		return netip.Prefix{}, errorf("'%s' is not a valid IPv6 network in CIDR notation (e.g. 2001:db8:1::/64)", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, errorf("%s has host bits set: the network is %s", s, p.Masked())
	}
	return p, nil
}

func size(p netip.Prefix) int { return 1 << (32 - p.Bits()) }

// Pool is the pool of one IPv4 subnet.
type Pool struct {
	subnet netip.Prefix
	res    []byte // '0' free, '1' held by an instance
	ext    []byte // '0' free, '1' reserved externally
}

// New is the pool of subnet with the given maps ("" means all free, as in
// a network Ganeti never initialised). Maps of the wrong length or with
// characters other than 0 and 1 are refused.
func New(subnet, reservations, external string) (*Pool, error) {
	p, err := ParseSubnet(subnet)
	if err != nil {
		return nil, err
	}
	pool := &Pool{subnet: p}
	n := size(p)
	for _, m := range []struct {
		name string
		s    string
		dst  *[]byte
	}{{"reservations", reservations, &pool.res}, {"external reservations", external, &pool.ext}} {
		if m.s == "" {
			*m.dst = []byte(strings.Repeat("0", n))
			continue
		}
		if len(m.s) != n || strings.Trim(m.s, "01") != "" {
			return nil, errorf("the %s of %s are not a map of its %d addresses (%d characters of 0 and 1)", m.name, p, n, len(m.s))
		}
		*m.dst = []byte(m.s)
	}
	return pool, nil
}

// Init is a new network's pool: its network and broadcast addresses and
// its gateway (if any) externally reserved, as Ganeti does.
func Init(subnet, gateway string) (*Pool, error) {
	p, err := New(subnet, "", "")
	if err != nil {
		return nil, err
	}
	p.ext[0], p.ext[len(p.ext)-1] = '1', '1'
	if gateway != "" {
		i, err := p.index(gateway)
		if err != nil {
			return nil, errorf("gateway %s is not inside %s", gateway, p.subnet)
		}
		if i == 0 || i == len(p.ext)-1 {
			return nil, errorf("gateway %s is the network's %s address", gateway, p.role(i))
		}
		p.ext[i] = '1'
	}
	return p, nil
}

// Subnet is the pool's subnet.
func (p *Pool) Subnet() netip.Prefix { return p.subnet }

// Size is the number of addresses in the subnet.
func (p *Pool) Size() int { return len(p.res) }

// Reservations and External are the maps, as stored.
func (p *Pool) Reservations() string { return string(p.res) }
func (p *Pool) External() string     { return string(p.ext) }

// Contains reports whether ip is an address of the subnet.
func (p *Pool) Contains(ip string) bool {
	_, err := p.index(ip)
	return err == nil
}

func (p *Pool) index(ip string) (int, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return 0, errorf("'%s' is not a valid IP address", ip)
	}
	a = a.Unmap()
	if !p.subnet.Contains(a) {
		return 0, errorf("%s does not contain %s", p.subnet, a)
	}
	return int(u32(a) - u32(p.subnet.Addr())), nil
}

// addr is the address at index i.
func (p *Pool) addr(i int) string {
	v := u32(p.subnet.Addr()) + uint32(i)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func (p *Pool) role(i int) string {
	if i == 0 {
		return "network"
	}
	return "broadcast"
}

// IsNetworkOrBroadcast reports whether ip is the subnet's first or last
// address.
func (p *Pool) IsNetworkOrBroadcast(ip string) bool {
	i, err := p.index(ip)
	return err == nil && (i == 0 || i == len(p.res)-1)
}

// IsReserved reports whether ip is held by an instance (external false)
// or reserved externally (external true).
func (p *Pool) IsReserved(ip string, external bool) (bool, error) {
	i, err := p.index(ip)
	if err != nil {
		return false, err
	}
	if external {
		return p.ext[i] == '1', nil
	}
	return p.res[i] == '1', nil
}

// Taken reports whether ip is held or reserved, either way.
func (p *Pool) Taken(ip string) (bool, error) {
	i, err := p.index(ip)
	if err != nil {
		return false, err
	}
	return p.res[i] == '1' || p.ext[i] == '1', nil
}

// Reserve marks ip as held by an instance, or reserved externally.
func (p *Pool) Reserve(ip string, external bool) error {
	i, err := p.index(ip)
	if err != nil {
		return err
	}
	m, msg := p.res, "IP %s is already used by an instance"
	if external {
		m, msg = p.ext, "IP %s is already externally reserved"
	}
	if m[i] == '1' {
		return errorf(msg, p.addr(i))
	}
	m[i] = '1'
	return nil
}

// Release frees ip's reservation of the given kind.
func (p *Pool) Release(ip string, external bool) error {
	i, err := p.index(ip)
	if err != nil {
		return err
	}
	m, msg := p.res, "IP %s is not used by an instance"
	if external {
		m, msg = p.ext, "IP %s is not externally reserved"
	}
	if m[i] != '1' {
		return errorf(msg, p.addr(i))
	}
	m[i] = '0'
	return nil
}

// Allocate takes the lowest free address for an instance and returns it.
func (p *Pool) Allocate() (string, error) {
	for i := range p.res {
		if p.res[i] == '0' && p.ext[i] == '0' {
			p.res[i] = '1'
			return p.addr(i), nil
		}
	}
	return "", errorf("%s is full", p.subnet)
}

// ReservedCount and FreeCount count the addresses taken either way and
// the others.
func (p *Pool) ReservedCount() int {
	n := 0
	for i := range p.res {
		if p.res[i] == '1' || p.ext[i] == '1' {
			n++
		}
	}
	return n
}

// FreeCount is the number of addresses neither held nor reserved.
func (p *Pool) FreeCount() int { return p.Size() - p.ReservedCount() }

// Map is Ganeti's usage map: one character per address, "X" taken, "."
// free.
func (p *Pool) Map() string {
	b := make([]byte, len(p.res))
	for i := range p.res {
		b[i] = '.'
		if p.res[i] == '1' || p.ext[i] == '1' {
			b[i] = 'X'
		}
	}
	return string(b)
}

// ExternalAddrs are the externally reserved addresses, in order.
func (p *Pool) ExternalAddrs() []string {
	var out []string
	for i, c := range p.ext {
		if c == '1' {
			out = append(out, p.addr(i))
		}
	}
	return out
}

// HeldAddrs are the addresses instances hold, in order.
func (p *Pool) HeldAddrs() []string {
	var out []string
	for i, c := range p.res {
		if c == '1' {
			out = append(out, p.addr(i))
		}
	}
	return out
}
