package cronjob

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // timeZone must work on hosts without a zoneinfo database
)

// schedule gives the first activation strictly after t (the zero time when there is none within five years).
type schedule interface {
	next(t time.Time) time.Time
}

// parseSchedule reads a schedule as upstream's controller does (robfig/cron v3's standard parser): five fields
// (minute hour day-of-month month day-of-week) with *, ?, lists, ranges, steps and month/weekday names, the
// descriptors @yearly @annually @monthly @weekly @daily @midnight @hourly and @every <duration>, and an
// optional leading TZ=<zone> or CRON_TZ=<zone>. Without a zone, times are in the location of the time they
// are computed from (the controller's local time, as upstream).
func parseSchedule(spec string) (schedule, error) {
	if spec == "" {
		return nil, fmt.Errorf("empty spec string")
	}
	var loc *time.Location
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		eq := strings.Index(spec, "=")
		sp := strings.Index(spec, " ")
		if sp < 0 {
			sp = len(spec)
		}
		name := spec[eq+1 : sp]
		l, err := time.LoadLocation(name)
		if err != nil {
			return nil, fmt.Errorf("provided bad location %s: %v", name, err)
		}
		loc = l
		spec = strings.TrimSpace(spec[sp:])
	}
	if strings.HasPrefix(spec, "@every ") {
		d, err := time.ParseDuration(strings.TrimSpace(spec[len("@every "):]))
		if err != nil {
			return nil, fmt.Errorf("failed to parse duration %s: %s", spec, err)
		}
		return every(d), nil
	}
	if strings.HasPrefix(spec, "@") {
		std, ok := descriptors[spec]
		if !ok {
			return nil, fmt.Errorf("unrecognized descriptor: %s", spec)
		}
		spec = std
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return nil, fmt.Errorf("expected exactly 5 fields, found %d: %s", len(fields), fields)
	}
	s := &cronSchedule{loc: loc}
	for i, dst := range []*uint64{&s.minute, &s.hour, &s.dom, &s.month, &s.dow} {
		bits, err := parseField(fields[i], fieldBounds[i])
		if err != nil {
			return nil, err
		}
		*dst = bits
	}
	return s, nil
}

var descriptors = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
	"@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

type bounds struct {
	min, max int
	names    map[string]int
}

var fieldBounds = []bounds{
	{0, 59, nil},
	{0, 23, nil},
	{1, 31, nil},
	{1, 12, map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}},
	{0, 6, map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}},
}

// anyBit marks a field written as * or ? (without a step): day-of-month and day-of-week then combine with
// AND instead of OR, as in cron.
const anyBit = uint64(1) << 63

// parseField turns one field ("1,5-10/2,*/15") into a bit set of the values it allows.
func parseField(f string, b bounds) (uint64, error) {
	var bits uint64
	for _, part := range strings.Split(f, ",") {
		rng, stepStr, hasStep := strings.Cut(part, "/")
		lo, hi, isRange := strings.Cut(rng, "-")
		var start, end int
		var extra uint64
		if rng == "*" || rng == "?" {
			start, end, extra = b.min, b.max, anyBit
		} else {
			var err error
			if start, err = value(lo, b); err != nil {
				return 0, err
			}
			end = start
			if isRange {
				if strings.Contains(hi, "-") {
					return 0, fmt.Errorf("too many hyphens: %s", part)
				}
				if end, err = value(hi, b); err != nil {
					return 0, err
				}
			}
		}
		step := 1
		if hasStep {
			if strings.Contains(stepStr, "/") {
				return 0, fmt.Errorf("too many slashes: %s", part)
			}
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("failed to parse int from %s: %v", stepStr, err)
			}
			step = n
			if !isRange && extra == 0 {
				end = b.max // "N/step" runs from N to the end of the range
			}
			if step > 1 {
				extra = 0
			}
		}
		switch {
		case start < b.min:
			return 0, fmt.Errorf("beginning of range (%d) below minimum (%d): %s", start, b.min, part)
		case end > b.max:
			return 0, fmt.Errorf("end of range (%d) above maximum (%d): %s", end, b.max, part)
		case start > end:
			return 0, fmt.Errorf("beginning of range (%d) beyond end of range (%d): %s", start, end, part)
		case step == 0:
			return 0, fmt.Errorf("step of range should be a positive number: %s", part)
		}
		for v := start; v <= end; v += step {
			bits |= 1 << uint(v)
		}
		bits |= extra
	}
	return bits, nil
}

func value(s string, b bounds) (int, error) {
	if v, ok := b.names[strings.ToLower(s)]; ok {
		return v, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("failed to parse int from %s: %v", s, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("negative number (%d) not allowed: %s", n, s)
	}
	return n, nil
}

// cronSchedule is a five-field schedule as bit sets; loc nil means the location of the time asked about.
type cronSchedule struct {
	minute, hour, dom, month, dow uint64
	loc                           *time.Location
}

func has(bits uint64, v int) bool { return bits&(1<<uint(v)) != 0 }

// dayMatches: with either day field unrestricted both must match, otherwise either (cron's rule).
func (s *cronSchedule) dayMatches(t time.Time) bool {
	dom, dow := has(s.dom, t.Day()), has(s.dow, int(t.Weekday()))
	if s.dom&anyBit != 0 || s.dow&anyBit != 0 {
		return dom && dow
	}
	return dom || dow
}

func (s *cronSchedule) next(t time.Time) time.Time {
	orig := t.Location()
	loc := s.loc
	if loc == nil {
		loc = orig
	}
	t = t.In(loc)
	// The next whole minute strictly after t (whole-minute UTC offsets assumed, as every zone in use has).
	t = t.Add(time.Minute - time.Duration(t.Second())*time.Second - time.Duration(t.Nanosecond()))
	limit := t.Year() + 5
	for t.Year() <= limit {
		switch {
		case !has(s.month, int(t.Month())):
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
		case !s.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
		case !has(s.hour, t.Hour()):
			// Forward in absolute time, so a daylight-saving change neither loops nor skips.
			t = t.Add(time.Duration(60-t.Minute()) * time.Minute)
		case !has(s.minute, t.Minute()):
			t = t.Add(time.Minute)
		default:
			return t.In(orig)
		}
	}
	return time.Time{}
}

// every is @every <duration>: a fixed interval (at least a second, whole seconds) from the time asked about.
type every time.Duration

func (e every) next(t time.Time) time.Time {
	d := time.Duration(e)
	if d < time.Second {
		d = time.Second
	}
	d -= d % time.Second
	return t.Add(d - time.Duration(t.Nanosecond()))
}

// Missed-schedule counts, as upstream's controller classifies them.
type missedSchedules int

const (
	noneMissed missedSchedules = iota
	fewMissed
	manyMissed // over 100: reported with a TooManyMissedTimes event
)

// mostRecent returns the latest activation in (earliest, now], where earliest is the CronJob's last schedule
// time (or its creation), moved up to now - startingDeadlineSeconds when withDeadline; nil when none is due.
// As upstream, it estimates how many activations were missed from the gap between the first two, so a
// CronJob whose clock jumped years costs no more than a few steps, and errs for schedules whose activations
// are under a second apart or impossible (February 31st).
func mostRecent(earliest time.Time, deadline *int64, now time.Time, sch schedule) (*time.Time, missedSchedules, error) {
	if deadline != nil {
		if d := now.Add(-time.Duration(*deadline) * time.Second); d.After(earliest) {
			earliest = d
		}
	}
	t1 := sch.next(earliest)
	if t1.IsZero() {
		return nil, noneMissed, fmt.Errorf("no activation of the schedule within five years")
	}
	if now.Before(t1) {
		return nil, noneMissed, nil
	}
	t2 := sch.next(t1)
	if now.Before(t2) {
		return &t1, noneMissed, nil
	}
	gap := int64(t2.Sub(t1).Round(time.Second).Seconds())
	if gap < 1 {
		return nil, noneMissed, fmt.Errorf("time difference between two schedules is less than 1 second")
	}
	n := int64(now.Sub(t1).Seconds())/gap + 1
	// Start one period before the estimated last activation and let the schedule find the real ones.
	from := t1.Add(time.Duration((n-2)*gap) * time.Second)
	var last time.Time
	for t := sch.next(from); !t.IsZero() && !t.After(now); t = sch.next(t) {
		last = t
	}
	missed := fewMissed
	if n > 100 {
		missed = manyMissed
	}
	if last.IsZero() {
		return nil, missed, nil
	}
	return &last, missed, nil
}
