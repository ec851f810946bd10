// Command veltrix runs the Veltrix game server and its tools.
//
//	veltrix run      [--config FILE] [--set key=value]...   all-in-one: embedded broker, engine, gateway
//	veltrix engine   [--config FILE] [--set key=value]...   the engine tier only
//	veltrix gateway  [--config FILE] [--set key=value]...   the gateway tier only
//	veltrix hunt import --gpx FILE [--out HUNT.yaml] [--id ID] [--name NAME] [--radius M]
//	veltrix replay   --gpx TRACK --url ws://HOST:PORT/ws [--hunt ID] [--speed N] [--player ID]
//	veltrix audit    --hunt H [--player P] [--since T] [--until T] [--admin URL | --from-export DIR | --path DIR]
//	veltrix stores stats [--exact] [--admin URL]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/veltrix/veltrix/engine/app"
	"github.com/veltrix/veltrix/engine/config"
	_ "github.com/veltrix/veltrix/plugins/standard"
)

const usage = `veltrix: a plugin-driven game server (gateway and engine tiers over Kafka)

Usage:
  veltrix run      [--config FILE] [--set key=value]...  all-in-one server (embedded broker by default)
  veltrix engine   [--config FILE] [--set key=value]...  engine tier only
  veltrix gateway  [--config FILE] [--set key=value]...  gateway tier only
  veltrix hunt import --gpx FILE [--out HUNT.yaml]      turn GPX waypoints into a hunt definition
  veltrix replay --gpx TRACK --url ws://HOST:PORT/ws    play one player along a GPX track
  veltrix hunt validate DIR | hunt simulate ...          designer tools (see docs/lua-api.md)
  veltrix audit --hunt H [--player P] [--since T] [--until T]   query the audit store (JSON lines)
  veltrix stores stats                                   live keys, bytes, compactions of the stores
  veltrix token issue --player ID | token verify TOKEN   signed player tokens (token auth)
  veltrix bench conns|players ...                        load tools

Each command takes --help. Configuration: the YAML file, then VELTRIX_* environment variables
(VELTRIX_GATEWAY__LISTEN=0.0.0.0:8080 sets gateway.listen), then --set flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	// `veltrix CMD --help` for the commands with subcommands.
	if len(args) == 2 && isHelp(args[1]) {
		if text, ok := map[string]string{
			"hunt":   huntUsage,
			"stores": storesUsage,
			"token":  tokenUsage,
			"bench":  benchUsage,
		}[args[0]]; ok {
			fmt.Fprint(stdout, text)
			return 0
		}
	}
	var err error
	switch args[0] {
	case "run":
		err = serve(args[1:], app.Roles{Gateway: true, Engine: true}, stdout, stderr)
	case "engine":
		err = serve(args[1:], app.Roles{Engine: true}, stdout, stderr)
	case "gateway":
		err = serve(args[1:], app.Roles{Gateway: true}, stdout, stderr)
	case "hunt":
		err = huntCmd(args[1:], stdout, stderr)
	case "replay":
		err = replayCmd(args[1:], stdout, stderr)
	case "audit":
		err = auditCmd(args[1:], stdout, stderr)
	case "stores":
		err = storesCmd(args[1:], stdout, stderr)
	case "token":
		err = tokenCmd(args[1:], stdout, stderr)
	case "bench":
		err = benchCmd(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "veltrix: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "veltrix: %v\n", err)
		return 1
	}
	return 0
}

func isHelp(s string) bool { return s == "-h" || s == "--help" || s == "-help" || s == "help" }

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func loadConfig(name string, args []string, stderr io.Writer) (*config.Config, error) {
	fs := flag.NewFlagSet("veltrix "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "configs/dev.yaml", "YAML config file")
	var sets multi
	fs.Var(&sets, "set", "override a config key: --set gateway.listen=127.0.0.1:9000 (repeatable)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))
	}
	return config.Load(*path, os.Environ(), sets)
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

func serve(args []string, roles app.Roles, stdout, stderr io.Writer) error {
	name := "run"
	if !roles.Gateway {
		name = "engine"
	} else if !roles.Engine {
		name = "gateway"
	}
	cfg, err := loadConfig(name, args, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.Start(ctx, cfg, roles, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "veltrix %s: broker %s\n", name, strings.Join(a.Seeds(), ","))
	if roles.Gateway {
		fmt.Fprintf(stdout, "veltrix %s: players connect to %s\n", name, a.GatewayURL())
	}
	if roles.Engine {
		fmt.Fprintf(stdout, "veltrix %s: sessions %s, audit %s\n", name, cfg.Engine.Sessions.Path, cfg.Engine.Audit.Path)
	}
	if addr := a.AdminAddr(); addr != "" {
		fmt.Fprintf(stdout, "veltrix %s: admin http://%s (metrics, /audit, /stores, /scripts)\n", name, addr)
	}
	fmt.Fprintf(stdout, "veltrix %s: press Ctrl-C to stop\n", name)
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-a.Err():
	}
	stop()
	log.Info("shutting down")
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(runErr, a.Close(cctx))
}
