package nodeipam

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
)

// ErrFull says every subnet of the cluster CIDR is taken.
var ErrFull = errors.New("no pod CIDR left in the cluster CIDR")

// maxSubnetBits bounds how many subnets a cluster CIDR is cut into (2^16), as upstream's
// --node-cidr-mask-size check does.
const maxSubnetBits = 16

// CIDRSet cuts a cluster CIDR into equal subnets and picks free ones. It holds no record of what is used: the
// caller says, from the Nodes it sees, so there is nothing to rebuild after a restart. Candidates are tried
// round robin from the last allocation, so a subnet just released is not handed out again at once.
type CIDRSet struct {
	cluster  netip.Prefix
	maskSize int
	count    uint64
	next     uint64
}

// NewCIDRSet cuts cluster into /maskSize subnets.
func NewCIDRSet(cluster netip.Prefix, maskSize int) (*CIDRSet, error) {
	if !cluster.IsValid() {
		return nil, errors.New("cluster CIDR is not set")
	}
	cluster = cluster.Masked()
	if maskSize < cluster.Bits() || maskSize > cluster.Addr().BitLen() {
		return nil, fmt.Errorf("node CIDR mask size %d does not fit in cluster CIDR %s", maskSize, cluster)
	}
	if maskSize-cluster.Bits() > maxSubnetBits {
		return nil, fmt.Errorf("node CIDR mask size %d cuts cluster CIDR %s into more than 2^%d subnets", maskSize, cluster, maxSubnetBits)
	}
	return &CIDRSet{cluster: cluster, maskSize: maskSize, count: 1 << (maskSize - cluster.Bits())}, nil
}

// subnet is the i-th subnet.
func (s *CIDRSet) subnet(i uint64) netip.Prefix {
	base := new(big.Int).SetBytes(s.cluster.Addr().AsSlice())
	off := new(big.Int).Lsh(new(big.Int).SetUint64(i), uint(s.cluster.Addr().BitLen()-s.maskSize))
	b := base.Add(base, off).FillBytes(make([]byte, s.cluster.Addr().BitLen()/8))
	addr, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(addr, s.maskSize)
}

// Owns says whether p is one of the set's subnets (inside the cluster CIDR, of the set's size).
func (s *CIDRSet) Owns(p netip.Prefix) bool {
	return p.IsValid() && p.Bits() == s.maskSize && p.Addr().BitLen() == s.cluster.Addr().BitLen() && s.cluster.Contains(p.Addr())
}

// Allocate returns the next subnet, from the one after the last allocation on, that used does not report.
func (s *CIDRSet) Allocate(used func(netip.Prefix) bool) (netip.Prefix, error) {
	for n := uint64(0); n < s.count; n++ {
		i := (s.next + n) % s.count
		p := s.subnet(i)
		if !used(p) {
			s.next = (i + 1) % s.count
			return p, nil
		}
	}
	return netip.Prefix{}, ErrFull
}
