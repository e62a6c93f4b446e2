package cronjob

import (
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, spec string) schedule {
	t.Helper()
	s, err := parseSchedule(spec)
	if err != nil {
		t.Fatalf("%q: %v", spec, err)
	}
	return s
}

func TestNext(t *testing.T) {
	utc := func(s string) time.Time {
		t, err := time.Parse("2006-01-02 15:04:05 Mon", s)
		if err != nil {
			panic(err)
		}
		return t
	}
	cases := []struct{ spec, from, want string }{
		{"* * * * *", "2026-03-02 10:00:00 Mon", "2026-03-02 10:01:00 Mon"},
		{"* * * * *", "2026-03-02 10:00:30 Mon", "2026-03-02 10:01:00 Mon"},
		{"*/15 * * * *", "2026-03-02 10:16:00 Mon", "2026-03-02 10:30:00 Mon"},
		{"5/20 * * * *", "2026-03-02 10:06:00 Mon", "2026-03-02 10:25:00 Mon"},
		{"0 9-17/4 * * *", "2026-03-02 10:00:00 Mon", "2026-03-02 13:00:00 Mon"},
		{"30 2 * * *", "2026-03-02 10:00:00 Mon", "2026-03-03 02:30:00 Tue"},
		{"0 0 1 * *", "2026-03-02 10:00:00 Mon", "2026-04-01 00:00:00 Wed"},
		{"0 0 * * sun", "2026-03-02 10:00:00 Mon", "2026-03-08 00:00:00 Sun"},
		{"0 0 * JAN-feb MON", "2026-03-02 10:00:00 Mon", "2027-01-04 00:00:00 Mon"},
		// Both day fields restricted: either matches (the 13th, or a Friday).
		{"0 0 13 * 5", "2026-03-02 10:00:00 Mon", "2026-03-06 00:00:00 Fri"},
		// One of them *: both must match (a Friday that is the 13th).
		{"0 0 13 * *", "2026-03-02 10:00:00 Mon", "2026-03-13 00:00:00 Fri"},
		{"0 0 ? * 5", "2026-03-02 10:00:00 Mon", "2026-03-06 00:00:00 Fri"},
		{"0 0 29 2 *", "2026-03-02 10:00:00 Mon", "2028-02-29 00:00:00 Tue"},
		{"1,2,59 * * * *", "2026-03-02 10:02:00 Mon", "2026-03-02 10:59:00 Mon"},
		{"@hourly", "2026-03-02 10:00:00 Mon", "2026-03-02 11:00:00 Mon"},
		{"@daily", "2026-03-02 10:00:00 Mon", "2026-03-03 00:00:00 Tue"},
		{"@weekly", "2026-03-02 10:00:00 Mon", "2026-03-08 00:00:00 Sun"},
		{"@monthly", "2026-03-02 10:00:00 Mon", "2026-04-01 00:00:00 Wed"},
		{"@yearly", "2026-03-02 10:00:00 Mon", "2027-01-01 00:00:00 Fri"},
		{"@every 90s", "2026-03-02 10:00:00 Mon", "2026-03-02 10:01:30 Mon"},
	}
	for _, c := range cases {
		got := mustParse(t, c.spec).next(utc(c.from))
		if want := utc(c.want); !got.Equal(want) {
			t.Errorf("%q after %s: %s, want %s", c.spec, c.from, got.Format("2006-01-02 15:04:05 Mon"), c.want)
		}
	}
	if got := mustParse(t, "0 0 31 2 *").next(utc("2026-03-02 10:00:00 Mon")); !got.IsZero() {
		t.Errorf("February 31st: %s", got)
	}
}

func TestNextTimeZones(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	// 09:00 in New York is 14:00 UTC in winter and 13:00 UTC in summer.
	s := mustParse(t, "TZ=America/New_York 0 9 * * *")
	got := s.next(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	if want := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("winter: %s", got)
	}
	got = s.next(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC))
	if want := time.Date(2026, 7, 1, 13, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("summer: %s", got)
	}
	// Spring forward (2026-03-08 02:00 -> 03:00): 02:30 does not exist that day and is skipped.
	s = mustParse(t, "CRON_TZ=America/New_York 30 2 * * *")
	got = s.next(time.Date(2026, 3, 7, 12, 0, 0, 0, ny))
	if want := time.Date(2026, 3, 9, 2, 30, 0, 0, ny); !got.Equal(want) {
		t.Errorf("across spring forward: %s", got.In(ny))
	}
	// Hourly across fall back (2026-11-01 02:00 EDT -> 01:00 EST) keeps going forward.
	s = mustParse(t, "TZ=America/New_York 0 * * * *")
	from := time.Date(2026, 11, 1, 0, 30, 0, 0, ny)
	prev := from
	for i := 0; i < 4; i++ {
		n := s.next(prev)
		if !n.After(prev) || n.Sub(prev) > time.Hour {
			t.Fatalf("step %d: %s after %s", i, n, prev)
		}
		prev = n
	}
	if want := from.Add(3*time.Hour + 30*time.Minute); !prev.Equal(want) {
		t.Errorf("four hourly steps from 00:30 EDT end at %s, want %s", prev, want)
	}
}

func TestParseErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"":                          "empty spec string",
		"* * * *":                   "expected exactly 5 fields, found 4",
		"60 * * * *":                "end of range (60) above maximum (59)",
		"* * 0 * *":                 "beginning of range (0) below minimum (1)",
		"5-1 * * * *":               "beginning of range (5) beyond end of range (1)",
		"*/0 * * * *":               "step of range should be a positive number",
		"* * * foo *":               "failed to parse int from foo",
		"@fortnightly":              "unrecognized descriptor",
		"TZ=Nowhere/City * * * * *": "provided bad location Nowhere/City",
	} {
		_, err := parseSchedule(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", spec, err, want)
		}
	}
}

func TestMostRecent(t *testing.T) {
	base := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	every := mustParse(t, "* * * * *")
	cases := []struct {
		name     string
		earliest time.Time
		deadline *int64
		now      time.Time
		want     *time.Time
		missed   missedSchedules
	}{
		{"nothing due yet", base, nil, base.Add(30 * time.Second), nil, noneMissed},
		{"exactly on time", base, nil, base.Add(time.Minute), ptrTime(base.Add(time.Minute)), noneMissed},
		{"one due", base, nil, base.Add(90 * time.Second), ptrTime(base.Add(time.Minute)), noneMissed},
		{"several missed: the last", base, nil, base.Add(10*time.Minute + 5*time.Second), ptrTime(base.Add(10 * time.Minute)), fewMissed},
		{"many missed", base, nil, base.Add(5 * time.Hour), ptrTime(base.Add(5 * time.Hour)), manyMissed},
		{"deadline keeps the count down", base, ptrInt(200), base.Add(5 * time.Hour), ptrTime(base.Add(5 * time.Hour)), fewMissed},
	}
	for _, c := range cases {
		got, missed, err := mostRecent(c.earliest, c.deadline, c.now, every)
		if err != nil || missed != c.missed || (got == nil) != (c.want == nil) || (got != nil && !got.Equal(*c.want)) {
			t.Errorf("%s: %v %v %v, want %v %v", c.name, got, missed, err, c.want, c.missed)
		}
	}
	// Irregular schedules: weekdays at 09:00, last run Thursday, now Monday 08:00 -> Friday's run is due.
	wd := mustParse(t, "0 9 * * 1-5")
	got, _, err := mostRecent(time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC), nil, time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC), wd)
	if err != nil || got == nil || !got.Equal(time.Date(2026, 3, 6, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("weekday schedule: %v %v", got, err)
	}
	if _, _, err := mostRecent(base, nil, base.Add(time.Hour), mustParse(t, "0 0 31 2 *")); err == nil {
		t.Error("an impossible schedule is an error")
	}
}

func ptrTime(t time.Time) *time.Time { return &t }
func ptrInt(i int64) *int64          { return &i }
