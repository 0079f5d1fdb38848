// Command reference-parse is a differential oracle: it reads an ip-masq-agent config and
// prints, as one JSON line, what the reference agent's parse path makes of it.
//
// Written for this project from the reference's observable behaviour (docs/spec.md, and
// kubernetes-sigs/ip-masq-agent's config handling read for its semantics); no code is
// copied from it. The path reproduced:
//
//	bytes --(JSON prefix? as is : ghodss/yaml.YAMLToJSON, i.e. go-yaml v2)--> JSON
//	      --encoding/json--> a struct pre-filled with defaults, the reference's field
//	      names and types --validation--> accepted config, or an error
//
// Usage:
//
//	reference-parse [-enable-ipv6] [-nomasq-all-reserved-ranges] < config
//	reference-parse -batch [flags] < stream
//
// In batch mode the input is a stream of records, each a 4-byte big-endian length and
// that many bytes, and the output one JSON line per record, in order.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"
	"unicode"

	"github.com/ghodss/yaml"
)

// goDuration mirrors the reference's duration field: a JSON string read by
// time.ParseDuration (anything else, null included, is an error).
type goDuration struct{ time.Duration }

func (d *goDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// config has the reference's keys and Go types.
type config struct {
	NonMasqueradeCIDRs []string   `json:"nonMasqueradeCIDRs"`
	CidrLimit          int        `json:"cidrLimit"`
	MasqLinkLocal      bool       `json:"masqLinkLocal"`
	MasqLinkLocalIPv6  bool       `json:"masqLinkLocalIPv6"`
	ResyncInterval     goDuration `json:"resyncInterval"`
}

var (
	enableIPv6 = flag.Bool("enable-ipv6", false, "IPv6 CIDRs are allowed")
	reserved   = flag.Bool("nomasq-all-reserved-ranges", false, "defaults are every reserved IPv4 range")
	batch      = flag.Bool("batch", false, "read length-prefixed records, print one line each")
)

func defaults() *config {
	cidrs := []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}
	if *reserved {
		cidrs = append(cidrs, "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24",
			"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4")
	}
	return &config{NonMasqueradeCIDRs: cidrs, CidrLimit: 64, ResyncInterval: goDuration{60 * time.Second}}
}

// network is one accepted CIDR as the rules need it: the family the reference puts it in
// (IPv4 when To4() succeeds, so an IPv4-mapped IPv6 CIDR is IPv4) and the network in
// that family's notation.
type network struct {
	Family int    `json:"family"`
	Net    string `json:"net"`
}

type verdict struct {
	OK                 bool      `json:"ok"`
	Stage              string    `json:"stage,omitempty"`
	Error              string    `json:"error,omitempty"`
	NonMasqueradeCIDRs []string  `json:"nonMasqueradeCIDRs"`
	Networks           []network `json:"networks"`
	CidrLimit          int       `json:"cidrLimit"`
	MasqLinkLocal      bool      `json:"masqLinkLocal"`
	MasqLinkLocalIPv6  bool      `json:"masqLinkLocalIPv6"`
	ResyncNanos        int64     `json:"resyncIntervalNanos"`
}

func failed(stage string, err error) verdict {
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return verdict{Stage: stage, Error: msg}
}

// hasJSONPrefix: leading Unicode white space, then '{'.
func hasJSONPrefix(b []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeftFunc(b, unicode.IsSpace), []byte("{"))
}

func parse(data []byte) (v verdict) {
	defer func() {
		if r := recover(); r != nil {
			v = failed("panic", fmt.Errorf("%v", r))
		}
	}()
	js := data
	if !hasJSONPrefix(data) {
		var err error
		if js, err = yaml.YAMLToJSON(data); err != nil {
			return failed("yaml", err)
		}
	}
	c := defaults()
	if err := json.Unmarshal(js, c); err != nil {
		return failed("json", err)
	}
	if len(c.NonMasqueradeCIDRs) > c.CidrLimit {
		return failed("validate", fmt.Errorf("%d CIDRs exceed cidrLimit %d", len(c.NonMasqueradeCIDRs), c.CidrLimit))
	}
	nets := []network{}
	for _, s := range c.NonMasqueradeCIDRs {
		ip, n, err := net.ParseCIDR(s)
		if err != nil {
			return failed("validate", err)
		}
		if !ip.Equal(n.IP) {
			return failed("validate", fmt.Errorf("CIDR %q is not aligned", s))
		}
		ones, bits := n.Mask.Size()
		if v4 := n.IP.To4(); v4 != nil {
			nets = append(nets, network{4, fmt.Sprintf("%s/%d", v4, ones-(bits-32))})
		} else {
			if !*enableIPv6 {
				return failed("validate", fmt.Errorf("ipv6 is not enabled, but ipv6 cidr %s provided", s))
			}
			nets = append(nets, network{6, n.String()})
		}
	}
	if c.NonMasqueradeCIDRs == nil {
		c.NonMasqueradeCIDRs = []string{}
	}
	return verdict{
		OK:                 true,
		NonMasqueradeCIDRs: c.NonMasqueradeCIDRs,
		Networks:           nets,
		CidrLimit:          c.CidrLimit,
		MasqLinkLocal:      c.MasqLinkLocal,
		MasqLinkLocalIPv6:  c.MasqLinkLocalIPv6,
		ResyncNanos:        int64(c.ResyncInterval.Duration),
	}
}

func main() {
	flag.Parse()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	if !*batch {
		data, err := io.ReadAll(os.Stdin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "reference-parse:", err)
			os.Exit(2)
		}
		_ = enc.Encode(parse(data))
		return
	}
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	var size [4]byte
	for {
		if _, err := io.ReadFull(in, size[:]); err == io.EOF {
			return
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "reference-parse: truncated record header:", err)
			os.Exit(2)
		}
		data := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(in, data); err != nil {
			fmt.Fprintln(os.Stderr, "reference-parse: truncated record:", err)
			os.Exit(2)
		}
		_ = enc.Encode(parse(data))
		// Answer now when no more input is waiting (an interactive caller such as
		// the fuzz target); a batch keeps its output buffered.
		if in.Buffered() == 0 {
			_ = out.Flush()
		}
	}
}
