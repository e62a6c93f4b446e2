package validation

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseCronSchedule accepts what the CronJob controller's parser (robfig/cron
// v3 in standard mode) accepts: five fields, month and weekday names,
// ranges, steps and lists, the @yearly/@monthly/@weekly/@daily/@hourly
// descriptors, @every <duration>, and a leading TZ=/CRON_TZ= zone. Error
// texts match that parser's, since users see them.
func parseCronSchedule(spec string) error {
	if spec == "" {
		return fmt.Errorf("empty spec string")
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		i := strings.Index(spec, " ")
		eq := strings.Index(spec, "=")
		if i < 0 {
			i = len(spec)
		}
		if _, err := time.LoadLocation(spec[eq+1 : i]); err != nil {
			return fmt.Errorf("provided bad location %s: %v", spec[eq+1:i], err)
		}
		spec = strings.TrimSpace(spec[i:])
	}
	if strings.HasPrefix(spec, "@") {
		return parseCronDescriptor(spec)
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return fmt.Errorf("expected exactly 5 fields, found %d: %s", len(fields), fields)
	}
	bounds := []cronBounds{
		{0, 59, nil},         // minute
		{0, 23, nil},         // hour
		{1, 31, nil},         // day of month
		{1, 12, cronMonths},  // month
		{0, 6, cronWeekdays}, // day of week
	}
	for i, f := range fields {
		if err := parseCronField(f, bounds[i]); err != nil {
			return err
		}
	}
	return nil
}

type cronBounds struct {
	min, max int
	names    map[string]int
}

var cronMonths = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
	"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}

var cronWeekdays = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

func parseCronDescriptor(spec string) error {
	switch spec {
	case "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly":
		return nil
	}
	const every = "@every "
	if strings.HasPrefix(spec, every) {
		if _, err := time.ParseDuration(spec[len(every):]); err != nil {
			return fmt.Errorf("failed to parse duration %s: %s", spec, err)
		}
		return nil
	}
	return fmt.Errorf("unrecognized descriptor: %s", spec)
}

// parseCronField: a comma-separated list of "*", "?", "N", "N-M", each
// optionally followed by "/step".
func parseCronField(field string, b cronBounds) error {
	for _, expr := range strings.FieldsFunc(field, func(r rune) bool { return r == ',' }) {
		if err := parseCronRange(expr, b); err != nil {
			return err
		}
	}
	return nil
}

func parseCronRange(expr string, b cronBounds) error {
	rangeAndStep := strings.Split(expr, "/")
	lowAndHigh := strings.Split(rangeAndStep[0], "-")
	single := len(lowAndHigh) == 1
	var start, end int
	var err error
	if lowAndHigh[0] == "*" || lowAndHigh[0] == "?" {
		start, end = b.min, b.max
	} else {
		if start, err = cronNumber(lowAndHigh[0], b.names); err != nil {
			return err
		}
		switch len(lowAndHigh) {
		case 1:
			end = start
		case 2:
			if end, err = cronNumber(lowAndHigh[1], b.names); err != nil {
				return err
			}
		default:
			return fmt.Errorf("too many hyphens: %s", expr)
		}
	}
	switch len(rangeAndStep) {
	case 1:
	case 2:
		step, err := cronNumber(rangeAndStep[1], nil)
		if err != nil {
			return err
		}
		if step <= 0 {
			return fmt.Errorf("step of range should be a positive number: %s", expr)
		}
		// "N/step" means "N-max/step".
		if single {
			end = b.max
		}
	default:
		return fmt.Errorf("too many slashes: %s", expr)
	}
	if start < b.min {
		return fmt.Errorf("beginning of range (%d) below minimum (%d): %s", start, b.min, expr)
	}
	if end > b.max {
		return fmt.Errorf("end of range (%d) above maximum (%d): %s", end, b.max, expr)
	}
	if start > end {
		return fmt.Errorf("beginning of range (%d) beyond end of range (%d): %s", start, end, expr)
	}
	return nil
}

func cronNumber(s string, names map[string]int) (int, error) {
	if n, ok := names[strings.ToLower(s)]; ok {
		return n, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("failed to parse int from %s: %s", s, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("negative number (%d) not allowed: %s", n, s)
	}
	return n, nil
}
