package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// withSupervisorLog appends to err what the supervisor's log says went
// wrong: its warnings, errors and any text that is not a log record (a
// panic, a message printed before logging was set up). Routine records
// ("supervisor started") would only bury the reason.
func (r *Runtime) withSupervisorLog(id string, err error) error {
	data, rerr := os.ReadFile(filepath.Join(r.StateDir(id), "supervisor.log"))
	if rerr != nil {
		return err
	}
	if tail := logTail(data, 1500); tail != "" {
		return fmt.Errorf("%w (supervisor log: %s)", err, tail)
	}
	return err
}

// logTail returns the last max bytes of the lines of data worth showing
// with an error: every line except slog JSON records below WARN.
func logTail(data []byte, max int) string {
	var keep [][]byte
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var rec struct{ Level string }
		if json.Unmarshal(line, &rec) == nil && (rec.Level == "INFO" || rec.Level == "DEBUG") {
			continue
		}
		keep = append(keep, line)
	}
	out := string(bytes.Join(keep, []byte("\n")))
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return strings.TrimSpace(out)
}
