package celenv

import (
	"context"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	"skiff/internal/auth"
)

// The authorizer library, as upstream's: authorizer.group(g).resource(r)[.subresource(s)][.namespace(n)]
// [.name(n)].check(verb), authorizer.path(p).check(verb), authorizer.serviceAccount(ns, name) (checks as
// that service account), authorizer.requestResource (the request's own resource); a decision has
// allowed(), reason(), errored(), error(). Checks go through the server's authorizer chain.
var (
	AuthorizerType    = cel.ObjectType("kubernetes.authorization.Authorizer")
	PathCheckType     = cel.ObjectType("kubernetes.authorization.PathCheck")
	GroupCheckType    = cel.ObjectType("kubernetes.authorization.GroupCheck")
	ResourceCheckType = cel.ObjectType("kubernetes.authorization.ResourceCheck")
	DecisionType      = cel.ObjectType("kubernetes.authorization.Decision")
)

// Authz is who checks are made for and with what.
type Authz struct {
	Ctx        context.Context
	Authorizer auth.Authorizer
	User       *auth.User
}

type pathCheck struct {
	a    *Authz
	path string
}

type resourceCheck struct {
	a                                                      *Authz
	group, version, resource, subresource, namespace, name string
}

type decision struct {
	d      auth.Decision
	reason string
	err    error
}

// AuthorizerVal is the value of the authorizer variable.
func AuthorizerVal(a *Authz) ref.Val { return &opaque{v: a, t: AuthorizerType} }

// RequestResourceVal is authorizer.requestResource for a request on group/version/resource/sub in ns/name.
func RequestResourceVal(a *Authz, group, version, resource, sub, ns, name string) ref.Val {
	return &opaque{v: &resourceCheck{a: a, group: group, version: version, resource: resource, subresource: sub, namespace: ns, name: name}, t: ResourceCheckType}
}

func (c *resourceCheck) with(f func(*resourceCheck)) ref.Val {
	cp := *c
	f(&cp)
	return &opaque{v: &cp, t: ResourceCheckType}
}

func authorize(a *Authz, attrs auth.Attributes) ref.Val {
	if a == nil || a.Authorizer == nil {
		return &opaque{v: &decision{reason: "no authorizer"}, t: DecisionType}
	}
	attrs.User = a.User
	ctx := a.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	d, reason, err := a.Authorizer.Authorize(ctx, attrs)
	return &opaque{v: &decision{d: d, reason: reason, err: err}, t: DecisionType}
}

func authzLib() cel.EnvOption {
	str := func(v ref.Val) string { s, _ := v.(types.String); return string(s) }
	rc := func(name string, set func(c *resourceCheck, s string)) cel.EnvOption {
		return cel.Function(name, cel.MemberOverload("k8s_resourcecheck_"+name, []*cel.Type{ResourceCheckType, cel.StringType}, ResourceCheckType,
			cel.BinaryBinding(func(v, s ref.Val) ref.Val {
				c, ok := v.Value().(*resourceCheck)
				if !ok {
					return types.MaybeNoSuchOverloadErr(v)
				}
				return c.with(func(c *resourceCheck) { set(c, str(s)) })
			})))
	}
	dec := func(name string, out *cel.Type, f func(d *decision) ref.Val) cel.EnvOption {
		return cel.Function(name, cel.MemberOverload("k8s_decision_"+name, []*cel.Type{DecisionType}, out,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				d, ok := v.Value().(*decision)
				if !ok {
					return types.MaybeNoSuchOverloadErr(v)
				}
				return f(d)
			})))
	}
	return cel.Lib(libOpts{
		cel.Function("path", cel.MemberOverload("k8s_authorizer_path", []*cel.Type{AuthorizerType, cel.StringType}, PathCheckType,
			cel.BinaryBinding(func(v, p ref.Val) ref.Val {
				a, ok := v.Value().(*Authz)
				if !ok {
					return types.MaybeNoSuchOverloadErr(v)
				}
				return &opaque{v: &pathCheck{a: a, path: str(p)}, t: PathCheckType}
			}))),
		cel.Function("group", cel.MemberOverload("k8s_authorizer_group", []*cel.Type{AuthorizerType, cel.StringType}, GroupCheckType,
			cel.BinaryBinding(func(v, g ref.Val) ref.Val {
				a, ok := v.Value().(*Authz)
				if !ok {
					return types.MaybeNoSuchOverloadErr(v)
				}
				return &opaque{v: &resourceCheck{a: a, group: str(g)}, t: GroupCheckType}
			}))),
		cel.Function("serviceAccount", cel.MemberOverload("k8s_authorizer_serviceaccount", []*cel.Type{AuthorizerType, cel.StringType, cel.StringType}, AuthorizerType,
			cel.FunctionBinding(func(args ...ref.Val) ref.Val {
				a, ok := args[0].Value().(*Authz)
				if !ok {
					return types.MaybeNoSuchOverloadErr(args[0])
				}
				ns, name := str(args[1]), str(args[2])
				sa := &auth.User{Name: "system:serviceaccount:" + ns + ":" + name,
					Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}} // as upstream ServiceAccountInfo.UserInfo()
				return AuthorizerVal(&Authz{Ctx: a.Ctx, Authorizer: a.Authorizer, User: sa})
			}))),
		cel.Function("resource", cel.MemberOverload("k8s_groupcheck_resource", []*cel.Type{GroupCheckType, cel.StringType}, ResourceCheckType,
			cel.BinaryBinding(func(v, r ref.Val) ref.Val {
				c, ok := v.Value().(*resourceCheck)
				if !ok {
					return types.MaybeNoSuchOverloadErr(v)
				}
				return c.with(func(c *resourceCheck) { c.resource = str(r) })
			}))),
		rc("subresource", func(c *resourceCheck, s string) { c.subresource = s }),
		rc("namespace", func(c *resourceCheck, s string) { c.namespace = s }),
		rc("name", func(c *resourceCheck, s string) { c.name = s }),
		cel.Function("check",
			cel.MemberOverload("k8s_pathcheck_check", []*cel.Type{PathCheckType, cel.StringType}, DecisionType,
				cel.BinaryBinding(func(v, verb ref.Val) ref.Val {
					p, ok := v.Value().(*pathCheck)
					if !ok {
						return types.MaybeNoSuchOverloadErr(v)
					}
					return authorize(p.a, auth.Attributes{Verb: str(verb), Path: p.path})
				})),
			cel.MemberOverload("k8s_resourcecheck_check", []*cel.Type{ResourceCheckType, cel.StringType}, DecisionType,
				cel.BinaryBinding(func(v, verb ref.Val) ref.Val {
					c, ok := v.Value().(*resourceCheck)
					if !ok {
						return types.MaybeNoSuchOverloadErr(v)
					}
					version := c.version
					if version == "" {
						version = "*"
					}
					return authorize(c.a, auth.Attributes{Verb: str(verb), APIGroup: c.group, APIVersion: version, Resource: c.resource,
						Subresource: c.subresource, Namespace: c.namespace, Name: c.name, ResourceRequest: true})
				}))),
		dec("allowed", cel.BoolType, func(d *decision) ref.Val { return types.Bool(d.d == auth.DecisionAllow) }),
		dec("reason", cel.StringType, func(d *decision) ref.Val { return types.String(d.reason) }),
		dec("errored", cel.BoolType, func(d *decision) ref.Val { return types.Bool(d.err != nil) }),
		dec("error", cel.StringType, func(d *decision) ref.Val {
			if d.err == nil {
				return types.String("")
			}
			return types.String(d.err.Error())
		}),
	})
}
