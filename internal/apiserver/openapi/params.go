package openapi

// param is one non-body operation parameter, independent of the document
// flavor it ends up in.
type param struct {
	name     string
	in       string // "path" or "query"
	typ      string // "string", "integer" or "boolean"
	desc     string
	required bool
}

func queryParam(name, typ, desc string) param {
	return param{name: name, in: "query", typ: typ, desc: desc}
}

// The descriptions below are written for skiff; the parameter names and
// types are the Kubernetes API's.
var (
	pPretty = queryParam("pretty", "string", "If 'true', the response is indented for humans.")

	pAllowWatchBookmarks = queryParam("allowWatchBookmarks", "boolean",
		"Ask for BOOKMARK events on a watch. Bookmarks only carry a resourceVersion and are sent at the server's "+
			"discretion; clients must not depend on receiving them. Ignored unless watch is set.")
	pContinue = queryParam("continue", "string",
		"Opaque token from the metadata.continue field of a previous, limited list response, to fetch the next "+
			"page with the same query. An expired token yields 410 Gone. Not supported with watch.")
	pFieldSelector = queryParam("fieldSelector", "string",
		"Only return objects whose fields match this selector, e.g. metadata.name=foo. Everything matches by default.")
	pLabelSelector = queryParam("labelSelector", "string",
		"Only return objects whose labels match this selector, e.g. app=web,tier!=db. Everything matches by default.")
	pLimit = queryParam("limit", "integer",
		"Maximum number of objects to return in one response. When more exist, metadata.continue is set and the "+
			"rest can be fetched with it. The server may return fewer objects than asked.")
	pResourceVersion = queryParam("resourceVersion", "string",
		"Constrains which version of the data the request is served from; see resourceVersionMatch. For a watch, "+
			"the version to start watching after. Unset means the most recent data.")
	pResourceVersionMatch = queryParam("resourceVersionMatch", "string",
		"How resourceVersion is applied to a list: Exact or NotOlderThan. Only valid together with resourceVersion.")
	pSendInitialEvents = queryParam("sendInitialEvents", "boolean",
		"With watch=true, start the stream with synthetic ADDED events for the current objects, followed by a "+
			"bookmark once they are all sent. Requires resourceVersionMatch=NotOlderThan.")
	pTimeoutSeconds = queryParam("timeoutSeconds", "integer",
		"Upper bound, in seconds, for the duration of a list or watch call, whether or not anything happens.")
	pWatch = queryParam("watch", "boolean",
		"Instead of a list, return a stream of add, update and delete events for the matching objects, starting "+
			"after resourceVersion.")

	pDryRun = queryParam("dryRun", "string",
		"If set to All, run every stage of the request (admission, validation, defaulting) but persist nothing. "+
			"Other values are rejected.")
	pFieldManager = queryParam("fieldManager", "string",
		"Name of the actor making the change, recorded in metadata.managedFields. At most 128 printable characters.")
	pFieldManagerPatch = queryParam("fieldManager", "string",
		"Name of the actor making the change, recorded in metadata.managedFields. At most 128 printable characters. "+
			"Required for apply patches (application/apply-patch+yaml), optional for the other patch types.")
	pFieldValidation = queryParam("fieldValidation", "string",
		"What to do with unknown or duplicate fields in the request body: Ignore drops them silently, Warn "+
			"(the default) drops them and returns a warning header for each, Strict rejects the request with a "+
			"BadRequest error listing them.")
	pForce = queryParam("force", "boolean",
		"For apply patches only: take ownership of fields currently managed by others instead of failing with a "+
			"conflict. Must be unset for other patch types.")

	pGracePeriodSeconds = queryParam("gracePeriodSeconds", "integer",
		"Seconds to wait before the object is deleted; 0 deletes immediately. Unset uses the object's default.")
	pIgnoreStoreReadError = queryParam("ignoreStoreReadErrorWithClusterBreakingPotential", "boolean",
		"Delete an object that cannot be read back from storage (for example because it can no longer be decoded). "+
			"Skips finalizers and admission; use with great care.")
	pOrphanDependents = queryParam("orphanDependents", "boolean",
		"Deprecated in favor of propagationPolicy. If true, dependents are orphaned; if false, they are deleted.")
	pPropagationPolicy = queryParam("propagationPolicy", "string",
		"How dependents are garbage collected: Orphan leaves them, Background deletes them after the owner, "+
			"Foreground deletes them before the owner. Unset uses the resource's default policy.")

	pLogContainer = queryParam("container", "string",
		"Container to read logs from. May be omitted when the pod has a single container.")
	pLogFollow     = queryParam("follow", "boolean", "Keep the connection open and stream new log lines.")
	pLogInsecure   = queryParam("insecureSkipTLSVerifyBackend", "boolean", "Do not verify the serving certificate of the kubelet the logs are read from.")
	pLogLimitBytes = queryParam("limitBytes", "integer", "Stop after this many bytes of log output.")
	pLogPrevious   = queryParam("previous", "boolean", "Return the logs of the previous, terminated instance of the container.")
	pLogSince      = queryParam("sinceSeconds", "integer", "Only return log lines newer than this many seconds.")
	pLogStream     = queryParam("stream", "string", "Which stream to return: All, Stdout or Stderr.")
	pLogTail       = queryParam("tailLines", "integer", "Only return this many lines from the end of the log.")
	pLogTimestamps = queryParam("timestamps", "boolean", "Prefix every line with an RFC 3339 timestamp.")
)

// Parameter sets per action, sorted by name like upstream's.
var (
	listParams = []param{pAllowWatchBookmarks, pContinue, pFieldSelector, pLabelSelector, pLimit,
		pResourceVersion, pResourceVersionMatch, pSendInitialEvents, pTimeoutSeconds, pWatch}
	writeParams  = []param{pDryRun, pFieldManager, pFieldValidation}
	patchParams  = []param{pDryRun, pFieldManagerPatch, pFieldValidation, pForce}
	deleteParams = []param{pDryRun, pGracePeriodSeconds, pIgnoreStoreReadError, pOrphanDependents,
		pPropagationPolicy}
	deleteCollectionParams = []param{pContinue, pDryRun, pFieldSelector, pGracePeriodSeconds,
		pIgnoreStoreReadError, pLabelSelector, pLimit, pOrphanDependents, pPropagationPolicy, pResourceVersion,
		pResourceVersionMatch, pSendInitialEvents, pTimeoutSeconds}
	logParams = []param{pLogContainer, pLogFollow, pLogInsecure, pLogLimitBytes, pLogPrevious, pLogSince,
		pLogStream, pLogTail, pLogTimestamps}
)

func pathParam(name, desc string) param {
	return param{name: name, in: "path", typ: "string", desc: desc, required: true}
}

var pNamespace = pathParam("namespace", "Namespace of the object; also the scope of authorization.")
