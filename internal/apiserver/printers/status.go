package printers

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// metav1.Status, e.g. the result of a delete, printed as a table.

func init() {
	register(statusColumns, func(s *metav1.Status, _ time.Time) []any {
		return []any{s.Status, string(s.Reason), s.Message}
	})
}

// Upstream asks for the "Message" key (capitalised), which the swagger
// docs do not have, so that description is empty.
var statusColumns = cols(
	column("Status", "string", metav1.Status{}.SwaggerDoc()["status"]),
	column("Reason", "string", metav1.Status{}.SwaggerDoc()["reason"]),
	column("Message", "string", metav1.Status{}.SwaggerDoc()["Message"]),
)
