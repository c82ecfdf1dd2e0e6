package network

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-dev/strata/internal/errdefs"
)

// PortMapping publishes one container port on the host.
//
// HostPort 0 asks Setup to choose a free host port. HostPortEnd, when not 0,
// makes HostPort..HostPortEnd a range Setup picks one free port from (Docker's
// "8000-8010:80" form). HostIP "" means every address of the host.
type PortMapping struct {
	HostIP        string `json:"hostIP,omitempty"`
	HostPort      uint16 `json:"hostPort"`
	HostPortEnd   uint16 `json:"hostPortEnd,omitempty"`
	ContainerPort uint16 `json:"containerPort"`
	Proto         string `json:"proto"` // "tcp" or "udp"
}

// String renders the mapping the way `docker ps` does: 0.0.0.0:8080->80/tcp.
func (p PortMapping) String() string {
	host := strconv.Itoa(int(p.HostPort))
	if p.HostPortEnd != 0 {
		host += "-" + strconv.Itoa(int(p.HostPortEnd))
	}
	return fmt.Sprintf("%s->%d/%s", net.JoinHostPort(displayIP(p.HostIP), host), p.ContainerPort, p.Proto)
}

// displayIP is the address Docker prints for a binding: 0.0.0.0 for "all".
func displayIP(ip string) string {
	if ip == "" {
		return "0.0.0.0"
	}
	return ip
}

// ParsePublish parses one -p/--publish value into mappings. It accepts
// Docker's short forms
//
//	80  80/udp  8080:80  127.0.0.1:8080:80  127.0.0.1::80  [::1]:8080:80
//	8000-8002:80-82  8000-8010:80  0:80
//
// and the long form "published=8080,target=80,protocol=udp,mode=host".
// A range of container ports yields one mapping per port.
func ParsePublish(spec string) ([]PortMapping, error) {
	if strings.Contains(spec, "=") {
		return parsePublishLong(spec)
	}
	ip, hostPart, containerPart := splitPublish(spec)
	containerPart, proto, _ := strings.Cut(containerPart, "/")
	if containerPart == "" {
		return nil, invalidf("no port specified: %s<empty>", spec)
	}
	proto, err := parseProto(proto)
	if err != nil {
		return nil, err
	}
	if ip, err = parseHostIP(ip); err != nil {
		return nil, err
	}
	return expandPublish(ip, hostPart, containerPart, proto)
}

// splitPublish splits "ip:host:container" from the right, so that an
// unbracketed IPv6 address keeps its colons.
func splitPublish(spec string) (ip, host, container string) {
	parts := strings.Split(spec, ":")
	n := len(parts)
	switch n {
	case 1:
		return "", "", parts[0]
	case 2:
		return "", parts[0], parts[1]
	default:
		return strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
	}
}

func parseProto(proto string) (string, error) {
	switch p := strings.ToLower(proto); p {
	case "", "tcp":
		return "tcp", nil
	case "udp":
		return "udp", nil
	case "sctp":
		return "", errdefs.Newf(errdefs.ErrUnsupported, "publishing sctp ports is not supported")
	default:
		return "", invalidf("invalid proto: %s", proto)
	}
}

func parseHostIP(ip string) (string, error) {
	if ip == "" {
		return "", nil
	}
	raw := ip
	if strings.HasPrefix(ip, "[") {
		if !strings.HasSuffix(ip, "]") {
			return "", invalidf("invalid IP address: %s", raw)
		}
		ip = ip[1 : len(ip)-1]
	}
	parsed := net.ParseIP(ip)
	if parsed == nil {
		return "", invalidf("invalid IP address: %s", raw)
	}
	return parsed.String(), nil
}

// expandPublish turns the host and container port parts into mappings.
func expandPublish(ip, hostPart, containerPart, proto string) ([]PortMapping, error) {
	cStart, cEnd, err := parsePortRange(containerPart)
	if err != nil || cStart == 0 {
		return nil, invalidf("invalid containerPort: %s", containerPart)
	}
	var hStart, hEnd uint16
	if hostPart != "" {
		hStart, hEnd, err = parsePortRange(hostPart)
		if err != nil || (hStart == 0 && hEnd != 0) {
			return nil, invalidf("invalid hostPort: %s", hostPart)
		}
		if cEnd-cStart != hEnd-hStart && cStart != cEnd {
			return nil, invalidf("invalid ranges specified for container and host Ports: %s and %s", containerPart, hostPart)
		}
	}
	if cStart == cEnd {
		m := PortMapping{HostIP: ip, HostPort: hStart, ContainerPort: cStart, Proto: proto}
		if hEnd != hStart {
			m.HostPortEnd = hEnd
		}
		return []PortMapping{m}, nil
	}
	out := make([]PortMapping, 0, int(cEnd-cStart)+1)
	for i := 0; i <= int(cEnd-cStart); i++ {
		m := PortMapping{HostIP: ip, ContainerPort: cStart + uint16(i), Proto: proto}
		if hStart != 0 {
			m.HostPort = hStart + uint16(i)
		}
		out = append(out, m)
	}
	return out, nil
}

// parsePortRange parses "80" or "8000-8002".
func parsePortRange(s string) (start, end uint16, err error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return uint16(a), uint16(a), nil
	}
	b, err := strconv.ParseUint(hi, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	if b < a {
		return 0, 0, fmt.Errorf("invalid range specified for port: %s", s)
	}
	return uint16(a), uint16(b), nil
}

// parsePublishLong parses the comma-separated key=value form of --publish.
func parsePublishLong(spec string) ([]PortMapping, error) {
	var target, published, proto, ip string
	for field := range strings.SplitSeq(spec, ",") {
		key, value, ok := strings.Cut(field, "=")
		if !ok {
			return nil, invalidf("invalid field %s must be a key=value pair", field)
		}
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "target":
			target = value
		case "published":
			published = value
		case "protocol":
			proto = value
		case "host_ip":
			ip = value
		case "mode":
			if value != "host" && value != "ingress" {
				return nil, invalidf("invalid publish mode value (%s): must be either 'ingress' or 'host'", value)
			}
		case "name", "app_protocol":
		default:
			return nil, invalidf("invalid field key %s", key)
		}
	}
	if target == "" {
		return nil, invalidf("missing mandatory field 'target'")
	}
	proto, err := parseProto(proto)
	if err != nil {
		return nil, err
	}
	if ip, err = parseHostIP(ip); err != nil {
		return nil, err
	}
	return expandPublish(ip, published, target, proto)
}

// PublishAll maps every exposed port ("80/tcp", "53/udp", "8000-8002/tcp";
// no protocol means tcp) to a random host port on all addresses, as -P does.
// Entries that do not parse, and sctp ports, are skipped. The result is
// sorted by protocol and port.
func PublishAll(exposed map[string]struct{}) []PortMapping {
	var out []PortMapping
	for key := range exposed {
		port, proto, _ := strings.Cut(key, "/")
		proto, err := parseProto(proto)
		if err != nil {
			continue
		}
		start, end, err := parsePortRange(port)
		if err != nil || start == 0 {
			continue
		}
		for p := int(start); p <= int(end); p++ {
			out = append(out, PortMapping{ContainerPort: uint16(p), Proto: proto})
		}
	}
	slices.SortFunc(out, func(a, b PortMapping) int {
		if c := strings.Compare(a.Proto, b.Proto); c != 0 {
			return c
		}
		return int(a.ContainerPort) - int(b.ContainerPort)
	})
	return slices.CompactFunc(out, func(a, b PortMapping) bool { return a == b })
}

func invalidf(format string, args ...any) error {
	return errdefs.Newf(errdefs.ErrInvalidArgument, format, args...)
}
