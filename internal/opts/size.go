package opts

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/berth/container/errdefs"
)

// ParseSize parses a byte count with an optional binary suffix: "512",
// "64k", "64m", "1g", "1.5g" (k/m/g/t in any case, optional trailing "b"
// or "ib": "64MB", "64mib").
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "b")
	if len(t) >= 2 && t[len(t)-1] == 'i' && strings.IndexByte("kmgt", t[len(t)-2]) >= 0 {
		t = t[:len(t)-1] // "kib", "ki"; a bare "i" is no unit
	}
	mult := 1.0
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) || v*mult >= math.MaxInt64/2 || strings.ContainsAny(t, "xXpP_") {
		return 0, fmt.Errorf("size %q: want a number with an optional unit k, m, g or t: %w", s, errdefs.ErrInvalidArgument)
	}
	return int64(v * mult), nil
}
