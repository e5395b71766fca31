package kube

// Kubernetes quantities (k8s.io/apimachinery/pkg/api/resource), written
// and read without that package: sizes in bytes, CPUs in thousandths.

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// bytesQuantity writes n bytes with the largest binary suffix that keeps
// it exact ("512Mi"), or as a plain number.
func bytesQuantity(n int64) string {
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"Ei", 60}, {"Pi", 50}, {"Ti", 40}, {"Gi", 30}, {"Mi", 20}, {"Ki", 10}} {
		if n != 0 && n%(int64(1)<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// nsupSize writes bytes with the largest exact suffix of nsup's (binary
// K M G T), or as a number.
func nsupSize(b int64) string {
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"T", 40}, {"G", 30}, {"M", 20}, {"K", 10}} {
		if b%(int64(1)<<u.shift) == 0 {
			return strconv.FormatInt(b>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(b, 10)
}

// cpuQuantity writes a number of CPUs as Kubernetes does: whole CPUs
// ("2"), else thousandths ("1500m").
func cpuQuantity(cores float64) string {
	m := int64(math.Round(cores * 1000))
	if m%1000 == 0 {
		return strconv.FormatInt(m/1000, 10)
	}
	return strconv.FormatInt(m, 10) + "m"
}

var (
	binarySuffixes  = map[string]int{"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
	decimalSuffixes = map[string]int{"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
)

// maxQuantityDigits bounds a quantity's digits: 10^40 bytes or CPUs is
// far past any limit.
const maxQuantityDigits = 40

// parseQuantity reads a quantity ("512Mi", "1.5", "1500m", "1e9", "2G")
// exactly.
func parseQuantity(s string) (*big.Rat, error) {
	bad := fmt.Errorf("%q is not a quantity (a number with an optional suffix: Ki Mi Gi Ti Pi Ei, m k M G T P E, or an exponent e3)", s)
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
			continue
		case c == '.' && !dot:
			dot = true
			continue
		}
		break
	}
	if digits == 0 {
		return nil, bad
	}
	if digits > maxQuantityDigits {
		// math/big reads a long number in time quadratic in its length
		// (a review's 4 million digits took 17 s); no limit needs more.
		return nil, fmt.Errorf("a quantity of %d digits is not read: at most %d", digits, maxQuantityDigits)
	}
	num, suffix := s[:i], s[i:]
	if strings.HasPrefix(num, ".") || strings.HasPrefix(num, "+.") || strings.HasPrefix(num, "-.") {
		num = strings.Replace(num, ".", "0.", 1)
	}
	num = strings.TrimSuffix(num, ".")
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return nil, bad
	}
	scale := new(big.Rat).SetInt64(1)
	pow := func(base, exp int64) *big.Rat {
		p := new(big.Int).Exp(big.NewInt(base), big.NewInt(abs(exp)), nil)
		if exp < 0 {
			return new(big.Rat).SetFrac(big.NewInt(1), p)
		}
		return new(big.Rat).SetInt(p)
	}
	if sh, ok := binarySuffixes[suffix]; ok {
		scale = pow(2, int64(sh))
	} else if e, ok := decimalSuffixes[suffix]; ok {
		scale = pow(10, int64(e))
	} else if len(suffix) > 1 && (suffix[0] == 'e' || suffix[0] == 'E') {
		e, err := strconv.ParseInt(suffix[1:], 10, 32)
		if err != nil || e > 30 || e < -30 {
			return nil, bad
		}
		scale = pow(10, e)
	} else {
		return nil, bad
	}
	return r.Mul(r, scale), nil
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// ceilInt is the least integer at least r, if it fits an int64.
func ceilInt(r *big.Rat) (int64, bool) {
	q, m := new(big.Int).DivMod(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}
