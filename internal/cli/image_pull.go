package cli

import (
	"fmt"
	"io"
	"sync"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
)

func (a *App) newImagePullCommand() *cobra.Command {
	var rf registryFlags
	var platform, progress string
	var maxDL int
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] REFERENCE",
		Short: "Pull an image from a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := rf.check(); err != nil {
				return err
			}
			pr, err := a.newProgress(progress)
			if err != nil {
				return err
			}
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			img, err := c.PullImage(cmd.Context(), args[0], client.PullOptions{
				Platform: platform, Scheme: rf.scheme, Auth: a.resolveAuth(args[0]), Progress: pr.update,
				MaxConcurrentDownloads: maxDL,
			})
			pr.finish()
			if err != nil {
				return err
			}
			if progress != "none" {
				fmt.Fprintf(a.Stdout, "%s\nDigest: %s\n", img.Name, img.Digest)
			}
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVar(&platform, "platform", "", "platform to pull from a multi-platform image, os/arch[/variant] (default: the host's)")
	cmd.Flags().IntVar(&maxDL, "max-concurrent-downloads", 0, "layers downloaded in parallel (default: the apiserver's images.maxConcurrentDownloads, 3)")
	cmd.Flags().StringVar(&progress, "progress", "auto", "progress output: auto (bars on a terminal), plain or none")
	return cmd
}

func (a *App) newImagePushCommand() *cobra.Command {
	var rf registryFlags
	var platform, progress string
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] REFERENCE",
		Short: "Push an image to its registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := rf.check(); err != nil {
				return err
			}
			pr, err := a.newProgress(progress)
			if err != nil {
				return err
			}
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			d, err := c.PushImage(cmd.Context(), args[0], client.PullOptions{
				Platform: platform, Scheme: rf.scheme, Auth: a.resolveAuth(args[0]), Progress: pr.update,
			})
			pr.finish()
			if err != nil {
				return err
			}
			if progress != "none" {
				fmt.Fprintf(a.Stdout, "Pushed %s\nDigest: %s\n", args[0], d)
			}
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVar(&platform, "platform", "", "accepted for compatibility; the platforms stored locally are pushed")
	cmd.Flags().StringVar(&progress, "progress", "auto", "progress output: auto (bars on a terminal), plain or none")
	return cmd
}

// progressView renders pull/push progress: one mpb bar per blob on a
// terminal, one line per state change otherwise, nothing with "none".
type progressView struct {
	w     io.Writer
	mode  string // bars, plain, none
	mu    sync.Mutex
	p     *mpb.Progress
	bars  map[string]*mpb.Bar
	state map[string]string
}

func (a *App) newProgress(mode string) (*progressView, error) {
	pv := &progressView{w: a.Stdout, bars: map[string]*mpb.Bar{}, state: map[string]string{}}
	switch mode {
	case "auto":
		pv.mode = "plain"
		if isTerminal(a.Stdout) && terminalWidth(a.Stdout) > 0 {
			pv.mode = "bars"
			pv.p = mpb.New(mpb.WithOutput(a.Stdout), mpb.WithWidth(40))
		}
	case "plain", "none":
		pv.mode = mode
	default:
		return nil, fmt.Errorf("progress %q: must be auto, plain or none: %w", mode, errdefs.ErrInvalidArgument)
	}
	return pv, nil
}

func (pv *progressView) update(ev client.ImageProgress) {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	id := shortDigest(ev.Digest)
	if id == "" {
		id = "image"
	}
	switch pv.mode {
	case "none":
	case "plain":
		if ev.Status == "downloading" || (ev.Status == "pushing" && pv.state[id] == "pushing") {
			return
		}
		if pv.state[id] == ev.Status {
			return
		}
		pv.state[id] = ev.Status
		if ev.Total > 0 {
			fmt.Fprintf(pv.w, "%s: %s (%s)\n", id, ev.Status, humanBytes(ev.Total))
		} else {
			fmt.Fprintf(pv.w, "%s: %s\n", id, ev.Status)
		}
	case "bars":
		if ev.Digest == "" && ev.Status != "pushing" {
			return
		}
		if ev.Status == "resolved" || ev.Status == "done" || ev.Status == "pushed" {
			return
		}
		bar, ok := pv.bars[id]
		if !ok {
			bar = pv.p.AddBar(ev.Total,
				mpb.PrependDecorators(decor.Name(id, decor.WC{C: decor.DindentRight | decor.DextraSpace})),
				mpb.AppendDecorators(decor.Counters(decor.SizeB1024(0), "% .1f / % .1f")),
			)
			pv.bars[id] = bar
		}
		if ev.Total > 0 {
			bar.SetTotal(ev.Total, false)
		}
		switch ev.Status {
		case "exists", "downloaded":
			bar.SetCurrent(ev.Total)
			bar.SetTotal(ev.Total, true)
		default:
			bar.SetCurrent(ev.Current)
		}
	}
}

// finish completes the bars (aborting unfinished ones) and waits for them
// to be drawn.
func (pv *progressView) finish() {
	if pv.mode != "bars" {
		return
	}
	pv.mu.Lock()
	for _, b := range pv.bars {
		if !b.Completed() {
			b.Abort(false)
		}
	}
	pv.mu.Unlock()
	pv.p.Wait()
}
