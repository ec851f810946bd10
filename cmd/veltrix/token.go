package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/veltrix/veltrix/engine/config"
	"github.com/veltrix/veltrix/engine/plugin"
	"github.com/veltrix/veltrix/plugins/auth/token"
)

const tokenUsage = `usage:
  veltrix token issue --player ID [--ttl 24h] [--issuer ISS] [--config FILE] [--set key=value]...
  veltrix token verify TOKEN [--config FILE] [--set key=value]...

The key is the token auth plugin's (gateway.auth.secret or secret_file, from
the config file, VELTRIX_GATEWAY__AUTH__SECRET or --set): the gateways that
check the tokens must have the same one.
`

// tokenCmd issues and checks player tokens for the "token" auth plugin.
func tokenCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "issue" && args[0] != "verify") {
		fmt.Fprint(stderr, tokenUsage)
		return errors.New("token: want issue or verify")
	}
	fs := flag.NewFlagSet("veltrix token "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, tokenUsage) }
	path := fs.String("config", "configs/dev.yaml", "YAML config file (its gateway.auth section)")
	var sets multi
	fs.Var(&sets, "set", "override a config key (repeatable)")
	player := fs.String("player", "", "issue: the player id (the token's sub)")
	ttl := fs.Duration("ttl", 24*time.Hour, "issue: how long the token is valid")
	issuer := fs.String("issuer", "", "issue: iss claim (default: the plugin's issuer setting)")
	rest := args[1:]
	var positional []string
	for len(rest) > 0 { // flags and the token in any order
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if rest = fs.Args(); len(rest) > 0 {
			positional, rest = append(positional, rest[0]), rest[1:]
		}
	}
	cfg, err := config.Load(*path, os.Environ(), sets)
	if err != nil {
		return err
	}
	auth, err := tokenAuth(cfg)
	if err != nil {
		return err
	}
	switch args[0] {
	case "issue":
		if len(positional) > 0 {
			return fmt.Errorf("token issue: unexpected argument %q", positional[0])
		}
		if *player == "" {
			return errors.New("token issue: --player is required")
		}
		if *ttl <= 0 {
			return errors.New("token issue: --ttl must be positive")
		}
		iss := *issuer
		if iss == "" {
			iss = auth.Issuer
		}
		now := time.Now()
		tok, err := token.Issue(auth.Key(), token.Claims{
			Subject: *player, IssuedAt: now.Unix(), ExpiresAt: now.Add(*ttl).Unix(), Issuer: iss,
		})
		if err != nil {
			return fmt.Errorf("token issue: %w", err)
		}
		fmt.Fprintln(stdout, tok)
		return nil
	default:
		if len(positional) != 1 {
			return errors.New("token verify: give one token")
		}
		c, err := token.Verify(strings.TrimSpace(positional[0]), [][]byte{auth.Key()}, time.Now(), auth.Leeway, auth.Issuer)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "valid: player %s, expires %s\n", c.Subject, time.Unix(c.ExpiresAt, 0).UTC().Format(time.RFC3339))
		return nil
	}
}

// tokenAuth loads the gateway's auth plugin, which must be "token".
func tokenAuth(cfg *config.Config) (*token.Auth, error) {
	if cfg.Gateway.Auth.Plugin != "token" {
		return nil, fmt.Errorf("token: gateway.auth.plugin is %q: tokens are for the \"token\" plugin (--set gateway.auth.plugin=token)",
			cfg.Gateway.Auth.Plugin)
	}
	base, _ := os.Getwd()
	m, err := plugin.Load("veltrix.auth", "token", config.Decoder(cfg.Gateway.Auth.Config), plugin.Context{BaseDir: base, DataDir: cfg.DataDir})
	if err != nil {
		return nil, fmt.Errorf("config: gateway.auth: %w", err)
	}
	return m.(*token.Auth), nil
}
