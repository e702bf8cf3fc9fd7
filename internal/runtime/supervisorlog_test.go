package runtime

import "testing"

func TestLogTail(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		max            int
	}{
		{name: "empty", in: "", want: "", max: 100},
		{name: "info only", in: `{"time":"t","level":"INFO","msg":"supervisor started"}` + "\n", want: "", max: 100},
		{name: "error kept", in: `{"level":"INFO","msg":"a"}` + "\n" + `{"level":"ERROR","msg":"b"}` + "\n",
			want: `{"level":"ERROR","msg":"b"}`, max: 100},
		{name: "panic text kept", in: `{"level":"DEBUG","msg":"a"}` + "\npanic: boom\n\ngoroutine 1\n", want: "panic: boom\ngoroutine 1", max: 100},
		{name: "cut to max", in: "0123456789\n", want: "6789", max: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := logTail([]byte(tc.in), tc.max); got != tc.want {
				t.Errorf("logTail(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
