package conformance

// Envoy's RBAC filter semantics, for the configuration Istio generates from AuthorizationPolicies:
// a request passes a filter with action ALLOW when some policy matches it, a filter with action
// DENY when none does, and the connection passes only if it passes every filter on the chain.
// Istio's simulation stops at the cluster a call reaches; this evaluates the RBAC filters of the
// filter chain it matched. A matcher this evaluator does not know is an error, never a pass.

import (
	"fmt"
	"regexp"
	"strings"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacpb "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routepb "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	httprbac "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	netrbac "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// Request is what an RBAC filter sees of a call.
type Request struct {
	// Principal is the peer's URI SAN (spiffe://…), empty when the peer presented no certificate
	// the proxy terminated.
	Principal string
	Port      uint32
	Method    string
	Path      string
	Host      string
}

// rbacFilters collects the RBAC rules in force on a filter chain, network and HTTP level.
func rbacFilters(fc *listener.FilterChain) ([]*rbacpb.RBAC, error) {
	var out []*rbacpb.RBAC
	for _, f := range fc.GetFilters() {
		tc := f.GetTypedConfig()
		if tc == nil {
			continue
		}
		switch {
		case strings.HasSuffix(tc.TypeUrl, "envoy.extensions.filters.network.rbac.v3.RBAC"):
			cfg := &netrbac.RBAC{}
			if err := tc.UnmarshalTo(cfg); err != nil {
				return nil, err
			}
			if cfg.GetRules() != nil {
				out = append(out, cfg.GetRules())
			}
		case strings.HasSuffix(tc.TypeUrl, "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"):
			manager := &hcm.HttpConnectionManager{}
			if err := tc.UnmarshalTo(manager); err != nil {
				return nil, err
			}
			for _, hf := range manager.GetHttpFilters() {
				htc := hf.GetTypedConfig()
				if htc == nil || !strings.HasSuffix(htc.TypeUrl, "envoy.extensions.filters.http.rbac.v3.RBAC") {
					continue
				}
				cfg := &httprbac.RBAC{}
				if err := htc.UnmarshalTo(cfg); err != nil {
					return nil, err
				}
				if cfg.GetRules() != nil {
					out = append(out, cfg.GetRules())
				}
			}
		}
	}
	return out, nil
}

// allowedBy evaluates every RBAC filter; the reason names the filter and policy that decided.
func allowedBy(filters []*rbacpb.RBAC, req Request, http bool) (bool, string, error) {
	for _, f := range filters {
		matched := ""
		for name, policy := range f.GetPolicies() {
			ok, err := policyMatches(policy, req, http)
			if err != nil {
				return false, "", fmt.Errorf("policy %s: %v", name, err)
			}
			if ok {
				matched = name
				break
			}
		}
		switch f.GetAction() {
		case rbacpb.RBAC_ALLOW:
			if matched == "" {
				return false, fmt.Sprintf("RBAC ALLOW filter with policies %s: none matches", policyNames(f)), nil
			}
		case rbacpb.RBAC_DENY:
			if matched != "" {
				return false, "RBAC DENY policy " + matched + " matches", nil
			}
		}
	}
	return true, "", nil
}

func policyNames(f *rbacpb.RBAC) string {
	if len(f.GetPolicies()) == 0 {
		return "(none)"
	}
	names := make([]string, 0, len(f.GetPolicies()))
	for n := range f.GetPolicies() {
		names = append(names, n)
	}
	return "[" + strings.Join(names, ", ") + "]"
}

func policyMatches(p *rbacpb.Policy, req Request, http bool) (bool, error) {
	permitted := false
	for _, perm := range p.GetPermissions() {
		ok, err := permissionMatches(perm, req, http)
		if err != nil {
			return false, err
		}
		if ok {
			permitted = true
			break
		}
	}
	if !permitted {
		return false, nil
	}
	for _, pr := range p.GetPrincipals() {
		ok, err := principalMatches(pr, req, http)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

func permissionMatches(p *rbacpb.Permission, req Request, http bool) (bool, error) {
	switch rule := p.GetRule().(type) {
	case *rbacpb.Permission_Any:
		return rule.Any, nil
	case *rbacpb.Permission_AndRules:
		for _, r := range rule.AndRules.GetRules() {
			ok, err := permissionMatches(r, req, http)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case *rbacpb.Permission_OrRules:
		for _, r := range rule.OrRules.GetRules() {
			ok, err := permissionMatches(r, req, http)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case *rbacpb.Permission_NotRule:
		ok, err := permissionMatches(rule.NotRule, req, http)
		return !ok, err
	case *rbacpb.Permission_DestinationPort:
		return rule.DestinationPort == req.Port, nil
	case *rbacpb.Permission_DestinationPortRange:
		r := rule.DestinationPortRange
		return int64(req.Port) >= int64(r.GetStart()) && int64(req.Port) < int64(r.GetEnd()), nil
	case *rbacpb.Permission_Header:
		if !http {
			return false, nil
		}
		return headerMatches(rule.Header, req)
	case *rbacpb.Permission_UrlPath:
		if !http {
			return false, nil
		}
		path := req.Path
		if i := strings.IndexAny(path, "?#"); i >= 0 {
			path = path[:i]
		}
		return stringMatches(rule.UrlPath.GetPath(), path)
	case *rbacpb.Permission_RequestedServerName:
		return stringMatches(rule.RequestedServerName, "")
	}
	return false, fmt.Errorf("permission %T is not evaluated by the harness", p.GetRule())
}

func principalMatches(p *rbacpb.Principal, req Request, http bool) (bool, error) {
	switch id := p.GetIdentifier().(type) {
	case *rbacpb.Principal_Any:
		return id.Any, nil
	case *rbacpb.Principal_AndIds:
		for _, x := range id.AndIds.GetIds() {
			ok, err := principalMatches(x, req, http)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case *rbacpb.Principal_OrIds:
		for _, x := range id.OrIds.GetIds() {
			ok, err := principalMatches(x, req, http)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case *rbacpb.Principal_NotId:
		ok, err := principalMatches(id.NotId, req, http)
		return !ok, err
	case *rbacpb.Principal_Authenticated_:
		if req.Principal == "" {
			return false, nil
		}
		if id.Authenticated.GetPrincipalName() == nil {
			return true, nil
		}
		return stringMatches(id.Authenticated.GetPrincipalName(), req.Principal)
	case *rbacpb.Principal_FilterState:
		if id.FilterState.GetKey() != "io.istio.peer_principal" || req.Principal == "" {
			return false, nil
		}
		return stringMatches(id.FilterState.GetStringMatch(), req.Principal)
	case *rbacpb.Principal_Header:
		if !http {
			return false, nil
		}
		return headerMatches(id.Header, req)
	case *rbacpb.Principal_DirectRemoteIp, *rbacpb.Principal_RemoteIp, *rbacpb.Principal_SourceIp:
		// The harness's callers come from addresses no policy names.
		return false, nil
	}
	return false, fmt.Errorf("principal %T is not evaluated by the harness", p.GetIdentifier())
}

func headerMatches(h *routepb.HeaderMatcher, req Request) (bool, error) {
	value, present := "", false
	switch strings.ToLower(h.GetName()) {
	case ":method":
		value, present = req.Method, true
	case ":path":
		value, present = req.Path, true
	case ":authority", "host":
		value, present = req.Host, true
	}
	var ok bool
	var err error
	switch spec := h.GetHeaderMatchSpecifier().(type) {
	case *routepb.HeaderMatcher_StringMatch:
		ok, err = stringMatches(spec.StringMatch, value)
		ok = ok && present
	case *routepb.HeaderMatcher_ExactMatch:
		ok = present && value == spec.ExactMatch
	case *routepb.HeaderMatcher_PrefixMatch:
		ok = present && strings.HasPrefix(value, spec.PrefixMatch)
	case *routepb.HeaderMatcher_SuffixMatch:
		ok = present && strings.HasSuffix(value, spec.SuffixMatch)
	case *routepb.HeaderMatcher_PresentMatch:
		ok = present == spec.PresentMatch
	default:
		return false, fmt.Errorf("header matcher %T is not evaluated by the harness", spec)
	}
	if h.GetInvertMatch() {
		ok = !ok
	}
	return ok, err
}

func stringMatches(m *matcher.StringMatcher, value string) (bool, error) {
	if m == nil {
		return true, nil
	}
	v := value
	fold := m.GetIgnoreCase()
	if fold {
		v = strings.ToLower(v)
	}
	lower := func(s string) string {
		if fold {
			return strings.ToLower(s)
		}
		return s
	}
	switch p := m.GetMatchPattern().(type) {
	case *matcher.StringMatcher_Exact:
		return v == lower(p.Exact), nil
	case *matcher.StringMatcher_Prefix:
		return strings.HasPrefix(v, lower(p.Prefix)), nil
	case *matcher.StringMatcher_Suffix:
		return strings.HasSuffix(v, lower(p.Suffix)), nil
	case *matcher.StringMatcher_Contains:
		return strings.Contains(v, lower(p.Contains)), nil
	case *matcher.StringMatcher_SafeRegex:
		re, err := regexp.Compile("^(?:" + p.SafeRegex.GetRegex() + ")$")
		if err != nil {
			return false, err
		}
		return re.MatchString(value), nil
	}
	return false, fmt.Errorf("string matcher %T is not evaluated by the harness", m.GetMatchPattern())
}
