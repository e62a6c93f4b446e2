package policy

import (
	"net/netip"
	"slices"
)

// Range is an inclusive range of IPv4 addresses.
type Range struct{ From, To netip.Addr }

// AddrSet is a set of IPv4 addresses as sorted, disjoint, non-adjacent ranges: the form an nftables
// interval set accepts (it refuses overlapping elements).
type AddrSet []Range

// single returns the set holding one address.
func single(a netip.Addr) AddrSet { return AddrSet{{a, a}} }

// prefixRange returns the addresses of p (masked).
func prefixRange(p netip.Prefix) Range {
	p = p.Masked()
	from := p.Addr().As4()
	to := from
	for i := p.Bits(); i < 32; i++ {
		to[i/8] |= 1 << (7 - i%8)
	}
	return Range{p.Addr(), netip.AddrFrom4(to)}
}

// Union returns the addresses in any of the sets.
func Union(sets ...AddrSet) AddrSet {
	var all []Range
	for _, s := range sets {
		all = append(all, s...)
	}
	slices.SortFunc(all, func(a, b Range) int { return a.From.Compare(b.From) })
	var out AddrSet
	for _, r := range all {
		if n := len(out); n > 0 {
			last := &out[n-1]
			// Overlapping or adjacent: extend.
			if next := last.To.Next(); !next.IsValid() || r.From.Compare(next) <= 0 {
				if r.To.Compare(last.To) > 0 {
					last.To = r.To
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// Minus returns the addresses of s that are not in t.
func (s AddrSet) Minus(t AddrSet) AddrSet {
	t = Union(t)
	var out AddrSet
	for _, r := range s {
		cur := r
		ok := true
		for _, x := range t {
			if x.To.Compare(cur.From) < 0 || x.From.Compare(cur.To) > 0 {
				continue
			}
			if x.From.Compare(cur.From) > 0 {
				out = append(out, Range{cur.From, x.From.Prev()})
			}
			if x.To.Compare(cur.To) >= 0 {
				ok = false
				break
			}
			cur.From = x.To.Next()
		}
		if ok {
			out = append(out, cur)
		}
	}
	return out
}

// Contains says whether a is in the set.
func (s AddrSet) Contains(a netip.Addr) bool {
	for _, r := range s {
		if r.From.Compare(a) <= 0 && a.Compare(r.To) <= 0 {
			return true
		}
	}
	return false
}

// String renders the set as nft set elements: "10.0.0.1, 10.1.0.0-10.1.255.255".
func (s AddrSet) String() string {
	b := make([]byte, 0, len(s)*16)
	for i, r := range s {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = r.From.AppendTo(b)
		if r.From != r.To {
			b = append(b, '-')
			b = r.To.AppendTo(b)
		}
	}
	return string(b)
}
