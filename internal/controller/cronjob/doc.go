// Package cronjob is the CronJob controller, with upstream's semantics: at each activation of spec.schedule
// (cron syntax, see parseSchedule; in spec.timeZone, else the controller's local zone) it creates the Job
// <cronjob>-<minutes since the epoch> from spec.jobTemplate, with the batch.kubernetes.io/cronjob-scheduled-
// timestamp annotation and the CronJob as controller. concurrencyPolicy Allow, Forbid (skip while a Job is
// active) or Replace (delete the active ones first); startingDeadlineSeconds bounds how late an activation
// may start (MissSchedule), and over 100 missed activations are reported (TooManyMissedTimes); suspend stops
// new Jobs. status.active, lastScheduleTime and lastSuccessfulTime follow the Jobs; finished Jobs beyond
// successfulJobsHistoryLimit/failedJobsHistoryLimit are deleted, oldest first. The CronJob is requeued for
// just after its next activation rather than polled.
//
//	CronJob/Job informers ─▶ queue ─▶ sync: cleanup history ─▶ active list ─▶ due activation? ─▶ create Job
//	   ─▶ status ─▶ requeue at next activation
package cronjob
