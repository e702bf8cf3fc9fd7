// Package config loads the apiserver's layered TOML configuration.
//
// Files are read in order and the first one that sets a key wins for that
// key: the file given with --config (if any), then
// $XDG_CONFIG_HOME/container/config.toml (or ~/.config/container/config.toml),
// then /etc/container/config.toml, then the built-in defaults. Keys that
// mean nothing to this server are reported, never fatal. A file that
// cannot be parsed, or a value of the wrong type, is an error naming the
// file and key.
//
// Keys are the fields of Config: each section is a struct with `toml`
// (the key), `default` and `desc` tags. To add keys, add a section type in
// your own file (e.g. images.go) and one field line in Config; Load,
// Properties and the unknown-key check pick it up by reflection.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/berth/container/errdefs"
)

// Config is the effective configuration. Every leaf field is one dotted
// key (section.key).
type Config struct {
	Runtime RuntimeConfig `toml:"runtime"`
	Images  ImagesConfig  `toml:"images"`
	Logs    LogsConfig    `toml:"logs"`
	Network NetworkConfig `toml:"network"`
	DNS     DNSConfig     `toml:"dns"`
}

// RuntimeConfig chooses how containers are run.
type RuntimeConfig struct {
	Default string `toml:"default" default:"container-runtime-linux" desc:"runtime plugin used when --runtime is not given"`
	OCI     string `toml:"oci" default:"runc" desc:"OCI runtime binary the supervisor drives (runc or crun)"`
	// HibernateAfter: see internal/runtime hibernate.go.
	HibernateAfter time.Duration `toml:"hibernateAfter" default:"5s" desc:"how long a container's supervisor serves nothing but waiting before it hibernates (execs the small container-runtime-monitor until it is needed again); 0s: never"`
}

// ImagesConfig tunes image pulls.
type ImagesConfig struct {
	MaxConcurrentDownloads int    `toml:"maxConcurrentDownloads" default:"3" desc:"layers downloaded in parallel by one pull"`
	DefaultRegistry        string `toml:"defaultRegistry" default:"docker.io" desc:"registry used for image names without a registry host"`
}

// LogsConfig tunes container log rotation.
type LogsConfig struct {
	MaxSize  int64 `toml:"maxSize" default:"10485760" desc:"bytes a container log may reach before it is rotated"`
	MaxFiles int   `toml:"maxFiles" default:"3" desc:"rotated container log files kept, the current one included"`
}

// NetworkConfig describes the default network.
type NetworkConfig struct {
	Subnet string `toml:"subnet" default:"10.88.0.0/16" desc:"subnet of the default network (bridge container0)"`
}

// DNSConfig sets container DNS defaults.
type DNSConfig struct {
	Domain string `toml:"domain" default:"" desc:"default DNS domain of containers (--dns-domain); empty means none"`
}

// keyError is a bad value of one key.
type keyError struct {
	key string
	err error
}

func (e *keyError) Error() string { return fmt.Sprintf("%s: %v", e.key, e.err) }

// problems lists the values of c whose type alone does not make them
// valid, one keyError each; Merge reports them with the file that set them.
func (c *Config) problems() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &keyError{key: key, err: fmt.Errorf(format, args...)})
	}
	if c.Images.MaxConcurrentDownloads < 1 {
		bad("images.maxConcurrentDownloads", "%d: must be at least 1", c.Images.MaxConcurrentDownloads)
	}
	if c.Logs.MaxSize < 0 {
		bad("logs.maxSize", "%d: must not be negative", c.Logs.MaxSize)
	}
	if c.Logs.MaxFiles < 1 {
		bad("logs.maxFiles", "%d: must be at least 1", c.Logs.MaxFiles)
	}
	if p, err := netip.ParsePrefix(c.Network.Subnet); err != nil || p != p.Masked() {
		bad("network.subnet", "%q: not a network prefix like 10.88.0.0/16", c.Network.Subnet)
	}
	if c.Runtime.Default == "" {
		bad("runtime.default", "must not be empty")
	}
	if c.Runtime.OCI == "" {
		bad("runtime.oci", "must not be empty")
	}
	if c.Runtime.HibernateAfter < 0 {
		bad("runtime.hibernateAfter", "%s: must not be negative", c.Runtime.HibernateAfter)
	}
	return errs
}

// Property is one effective key, for System.ListProperties.
type Property struct {
	Key         string
	Value       string // rendered as TOML would write it
	Source      string // "default" or the path of the file that set it
	Description string
}

// Loaded is the result of Load.
type Loaded struct {
	Config      Config
	Properties  []Property // sorted by key
	UnknownKeys []string   // "key (file)", sorted
	Files       []string   // config files that exist and were read, in order
}

// SourceDefault is the Source of a key no file sets.
const SourceDefault = "default"

// SystemFile is the machine-wide config file.
const SystemFile = "/etc/container/config.toml"

// UserFile returns the per-user config file: $XDG_CONFIG_HOME/container/config.toml,
// else ~/.config/container/config.toml, or "" when neither is known.
func UserFile() string {
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "container", "config.toml")
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, ".config", "container", "config.toml")
	}
	return ""
}

// Paths returns the files Load reads, highest priority first: explicit
// (from --config) when set, then the user file, then the system file.
func Paths(explicit string) []string {
	var paths []string
	if explicit != "" {
		paths = append(paths, explicit)
	}
	if u := UserFile(); u != "" {
		paths = append(paths, u)
	}
	return append(paths, SystemFile)
}

// Layer is one parsed config file.
type Layer struct {
	Source string
	Values map[string]any // dotted key -> TOML value
}

// Parse parses one TOML document. Errors are of kind ErrInvalidArgument.
func Parse(data []byte, source string) (Layer, error) {
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		return Layer{}, fmt.Errorf("config file %s: %v: %w", source, err, errdefs.ErrInvalidArgument)
	}
	l := Layer{Source: source, Values: map[string]any{}}
	flatten("", doc, l.Values)
	return l, nil
}

func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			flatten(key, sub, out)
			continue
		}
		out[key] = v
	}
}

// Load reads the files in paths (see Paths) and merges them over the
// defaults. A missing file is skipped, except required (the --config
// file, "" for none), which must exist.
func Load(paths []string, required string) (Loaded, error) {
	var layers []Layer
	var files []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != required {
				continue
			}
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return Loaded{}, fmt.Errorf("config file %s: %w", p, errdefs.ErrNotFound)
			case errors.Is(err, fs.ErrPermission):
				return Loaded{}, fmt.Errorf("config file %s: %v: %w", p, err, errdefs.ErrPermissionDenied)
			case errors.Is(err, syscall.EISDIR):
				return Loaded{}, fmt.Errorf("config file %s is a directory: %w", p, errdefs.ErrInvalidArgument)
			}
			return Loaded{}, fmt.Errorf("config file %s: %w", p, err)
		}
		l, err := Parse(data, p)
		if err != nil {
			return Loaded{}, err
		}
		layers = append(layers, l)
		files = append(files, p)
	}
	out, err := Merge(layers...)
	if err != nil {
		return Loaded{}, err
	}
	out.Files = files
	return out, nil
}

// Merge applies layers (highest priority first) over the defaults.
func Merge(layers ...Layer) (Loaded, error) {
	var out Loaded
	known := map[string]bool{}
	var errs []error
	for _, f := range fields(reflect.ValueOf(&out.Config).Elem(), "") {
		known[f.key] = true
		src, raw, found := SourceDefault, any(nil), false
		for _, l := range layers {
			if v, ok := l.Values[f.key]; ok {
				src, raw, found = l.Source, v, true
				break
			}
		}
		var err error
		if found {
			err = setValue(f.value, raw)
		} else {
			err = setDefault(f.value, f.def)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("config %s: key %s: %w", src, f.key, err))
			continue
		}
		out.Properties = append(out.Properties, Property{
			Key: f.key, Value: render(f.value.Interface()), Source: src, Description: f.desc,
		})
	}
	if len(errs) > 0 {
		return Loaded{}, fmt.Errorf("%w: %w", errors.Join(errs...), errdefs.ErrInvalidArgument)
	}
	sources := map[string]string{}
	for _, p := range out.Properties {
		sources[p.Key] = p.Source
	}
	for _, e := range out.Config.problems() {
		var ke *keyError
		if errors.As(e, &ke) {
			e = fmt.Errorf("config %s: key %w", sources[ke.key], ke)
		}
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		return Loaded{}, fmt.Errorf("%w: %w", errors.Join(errs...), errdefs.ErrInvalidArgument)
	}
	for _, l := range layers {
		for k := range l.Values {
			if !known[k] {
				out.UnknownKeys = append(out.UnknownKeys, fmt.Sprintf("%s (%s)", k, l.Source))
			}
		}
	}
	slices.Sort(out.UnknownKeys)
	slices.SortFunc(out.Properties, func(a, b Property) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Defaults returns the built-in configuration.
func Defaults() Config {
	out, err := Merge()
	if err != nil {
		panic(fmt.Sprintf("config: built-in defaults are invalid: %v", err)) // a programming error
	}
	return out.Config
}

type field struct {
	key, def, desc string
	value          reflect.Value
}

// fields lists the leaf fields of a section struct with their dotted keys.
func fields(v reflect.Value, prefix string) []field {
	var out []field
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
		if name == "" || name == "-" || !sf.IsExported() {
			continue
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		if sf.Type.Kind() == reflect.Struct && sf.Type != reflect.TypeFor[time.Duration]() {
			out = append(out, fields(v.Field(i), key)...)
			continue
		}
		out = append(out, field{key: key, def: sf.Tag.Get("default"), desc: sf.Tag.Get("desc"), value: v.Field(i)})
	}
	return out
}

// setValue stores a decoded TOML value in a field of a supported kind.
func setValue(f reflect.Value, raw any) error {
	if f.Type() == reflect.TypeFor[time.Duration]() {
		s, ok := raw.(string)
		if !ok {
			return fmt.Errorf("want a duration string like \"30s\", got %s", tomlType(raw))
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %v", s, err)
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			return fmt.Errorf("want a string, got %s", tomlType(raw))
		}
		f.SetString(s)
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			return fmt.Errorf("want true or false, got %s", tomlType(raw))
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := raw.(int64)
		if !ok {
			return fmt.Errorf("want an integer, got %s", tomlType(raw))
		}
		if f.OverflowInt(n) {
			return fmt.Errorf("integer %d out of range", n)
		}
		f.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := raw.(int64)
		if !ok || n < 0 || f.OverflowUint(uint64(n)) {
			return fmt.Errorf("want a non-negative integer, got %v", raw)
		}
		f.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		switch n := raw.(type) {
		case float64:
			f.SetFloat(n)
		case int64:
			f.SetFloat(float64(n))
		default:
			return fmt.Errorf("want a number, got %s", tomlType(raw))
		}
	case reflect.Slice:
		if f.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported field type %s", f.Type())
		}
		arr, ok := raw.([]any)
		if !ok {
			return fmt.Errorf("want an array of strings, got %s", tomlType(raw))
		}
		ss := make([]string, 0, len(arr))
		for _, e := range arr {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("want an array of strings, found %s", tomlType(e))
			}
			ss = append(ss, s)
		}
		f.Set(reflect.ValueOf(ss))
	default:
		return fmt.Errorf("unsupported field type %s", f.Type())
	}
	return nil
}

// setDefault stores a `default` tag in a field.
func setDefault(f reflect.Value, def string) error {
	if f.Type() == reflect.TypeFor[time.Duration]() {
		if def == "" {
			def = "0s"
		}
		return setValue(f, def)
	}
	switch f.Kind() {
	case reflect.String:
		return setValue(f, def)
	case reflect.Bool:
		b, err := strconv.ParseBool(def)
		if err != nil && def != "" {
			return fmt.Errorf("default %q: %v", def, err)
		}
		return setValue(f, b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if def == "" {
			def = "0"
		}
		n, err := strconv.ParseInt(def, 10, 64)
		if err != nil {
			return fmt.Errorf("default %q: %v", def, err)
		}
		return setValue(f, n)
	case reflect.Float32, reflect.Float64:
		if def == "" {
			def = "0"
		}
		n, err := strconv.ParseFloat(def, 64)
		if err != nil {
			return fmt.Errorf("default %q: %v", def, err)
		}
		return setValue(f, n)
	case reflect.Slice:
		var arr []any
		for s := range strings.SplitSeq(def, ",") {
			if s = strings.TrimSpace(s); s != "" {
				arr = append(arr, s)
			}
		}
		return setValue(f, arr)
	}
	return fmt.Errorf("unsupported field type %s", f.Type())
}

func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("a %T", v)
}

// render writes v as a TOML value.
func render(v any) string {
	if d, ok := v.(time.Duration); ok {
		v = d.String()
	}
	b, err := toml.Marshal(map[string]any{"v": v})
	if err != nil {
		return fmt.Sprint(v)
	}
	s := strings.TrimSpace(string(b))
	s = strings.TrimPrefix(s, "v = ")
	return s
}
