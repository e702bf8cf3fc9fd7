package plugins

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/berth/container/errdefs"
)

// ServiceType is what a plugin provides to the apiserver.
type ServiceType string

// The service types a config.toml may declare.
const (
	// ServiceRuntime plugins run one instance per container, spawned by
	// internal/runtime (container-runtime-linux is the built-in one).
	ServiceRuntime ServiceType = "runtime"
	// ServiceNetwork plugins run one supervised instance per network.
	ServiceNetwork ServiceType = "network"
	// ServiceCore plugins run once per apiserver, booted when loadAtBoot is set.
	ServiceCore ServiceType = "core"
	// ServiceAuxiliary plugins are booted like core ones but are not
	// essential to the apiserver.
	ServiceAuxiliary ServiceType = "auxiliary"
)

// Valid reports whether t is one of the known service types.
func (t ServiceType) Valid() bool {
	switch t {
	case ServiceRuntime, ServiceNetwork, ServiceCore, ServiceAuxiliary:
		return true
	}
	return false
}

// maxConfigSize bounds how much of a config.toml is read.
const maxConfigSize = 64 << 10

// Config is the content of a plugin's config.toml.
//
//	abstract = "one-line description"   # required
//	author = "..."                      # optional
//	[servicesConfig]                    # absent: a CLI plugin
//	loadAtBoot = true
//	runAtLoad = false
//	defaultArguments = ["--flag"]
//	[[servicesConfig.services]]
//	type = "core"                       # runtime | network | core | auxiliary
//	description = "..."                 # optional
type Config struct {
	Abstract       string          `toml:"abstract"`
	Author         string          `toml:"author,omitempty"`
	ServicesConfig *ServicesConfig `toml:"servicesConfig,omitempty"`
}

// ServicesConfig is the [servicesConfig] table of a service plugin.
type ServicesConfig struct {
	LoadAtBoot       bool      `toml:"loadAtBoot"`
	RunAtLoad        bool      `toml:"runAtLoad"`
	DefaultArguments []string  `toml:"defaultArguments,omitempty"`
	Services         []Service `toml:"services"`
}

// Service is one [[servicesConfig.services]] entry.
type Service struct {
	Type        ServiceType `toml:"type"`
	Description string      `toml:"description,omitempty"`
}

// ParseConfig decodes and validates a config.toml. Unknown keys are an
// error, as are a missing abstract, a [servicesConfig] without services and
// an unknown service type. Every error is of kind errdefs.ErrInvalidArgument.
func ParseConfig(data []byte) (Config, error) {
	if len(data) > maxConfigSize {
		return Config{}, fmt.Errorf("config larger than %d bytes: %w", maxConfigSize, errdefs.ErrInvalidArgument)
	}
	var c Config
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%s: %w", describeTOMLError(err), errdefs.ErrInvalidArgument)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks the rules ParseConfig enforces after decoding.
func (c Config) Validate() error {
	if strings.TrimSpace(c.Abstract) == "" {
		return fmt.Errorf("abstract is required: %w", errdefs.ErrInvalidArgument)
	}
	sc := c.ServicesConfig
	if sc == nil {
		return nil
	}
	if len(sc.Services) == 0 {
		return fmt.Errorf("servicesConfig has no services: %w", errdefs.ErrInvalidArgument)
	}
	for i, s := range sc.Services {
		if !s.Type.Valid() {
			return fmt.Errorf("servicesConfig.services[%d]: unknown type %q (want runtime, network, core or auxiliary): %w",
				i, s.Type, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// describeTOMLError turns a go-toml error into a one-line message that
// names the offending keys or position.
func describeTOMLError(err error) string {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		keys := make([]string, 0, len(strict.Errors))
		for _, e := range strict.Errors {
			keys = append(keys, strings.Join(e.Key(), "."))
		}
		return "unknown keys " + strings.Join(keys, ", ")
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if m := typeMismatchRE.FindStringSubmatch(msg); m != nil && len(de.Key()) > 0 {
			msg = fmt.Sprintf("%s: want %s, got %s", strings.Join(de.Key(), "."), tomlKind(m[2]), m[1])
		}
		return fmt.Sprintf("line %d column %d: %s", row, col, msg)
	}
	return strings.TrimPrefix(err.Error(), "toml: ")
}

// typeMismatchRE matches go-toml's message for a value of the wrong type,
// which names Go types; describeTOMLError rewrites it in TOML terms.
var typeMismatchRE = regexp.MustCompile(`^cannot decode TOML (\w+) into struct field \S+ of type (\S+)$`)

// tomlKind names the TOML kind a Go field type of Config expects.
func tomlKind(goType string) string {
	switch {
	case goType == "bool":
		return "a boolean"
	case goType == "string", strings.HasSuffix(goType, "ServiceType"):
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return "a table"
}

// CLI reports whether c describes a CLI plugin (no [servicesConfig]).
func (c Config) CLI() bool { return c.ServicesConfig == nil }
