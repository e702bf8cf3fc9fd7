package integration

import "testing"

func TestDaemonStartsAndAnswersStatus(t *testing.T) {
	d := StartDaemon(t)
	st, err := d.Client.Status(t.Context())
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if st.Status != "running" || st.AppRoot != d.Root || st.PID != d.PID() {
		t.Errorf("Status = %+v, want running with root %s and pid %d", st, d.Root, d.PID())
	}
}
