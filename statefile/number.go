package statefile

import (
	"encoding/json"
	"math"
)

// Int reads an integer out of a model value (a Params value, a logical_id
// element): any Go integer type, or a float64, float32 or json.Number that
// holds a whole number, which is what decoding JSON or TOML makes of one.
// Fractions, values outside int64, strings and other types give false:
// callers that accept numeric strings parse them themselves.
func Int(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint:
		return uintInt(uint64(x))
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return uintInt(x)
	case float64:
		return floatInt(x)
	case float32:
		return floatInt(float64(x))
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, true
		}
		f, err := x.Float64()
		if err != nil {
			return 0, false
		}
		return floatInt(f)
	}
	return 0, false
}

func uintInt(u uint64) (int64, bool) {
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

func floatInt(f float64) (int64, bool) {
	// -2^63 is exact as a float64 and in range; 2^63 is the first value out.
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}
