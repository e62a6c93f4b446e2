package server

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/auth"
	"skiff/internal/auth/authnconfig"
	bootstraptoken "skiff/internal/auth/bootstrap"
	"skiff/internal/auth/oidc"
	"skiff/internal/auth/tokenfile"
)

// AuthenticationConfig holds the authentication flags beyond client certificates (upstream's names).
type AuthenticationConfig struct {
	// OIDC is the --oidc-* flags (used when the issuer URL or client ID is set).
	OIDC oidc.Flags
	// ConfigFile is an AuthenticationConfiguration (--authentication-config): JWT issuers and the anonymous
	// section. Exclusive with the --oidc-* flags, and its anonymous section with an explicit --anonymous-auth.
	ConfigFile string
	// AnonymousAuth lets requests without credentials through as system:anonymous (group
	// system:unauthenticated), left to the authorizers; off, they get 401 (--anonymous-auth, default true).
	// AnonymousAuthExplicit says the flag was given.
	AnonymousAuth         bool
	AnonymousAuthExplicit bool
	// TokenAuthFile is a static token CSV (--token-auth-file).
	TokenAuthFile string
	// BootstrapTokenAuth accepts bootstrap tokens (kube-system Secrets of type bootstrap.kubernetes.io/token).
	BootstrapTokenAuth bool
}

// authn is the server's request authenticator plus what it needs once the API answers.
type authn struct {
	auth.Authenticator
	bootstrapSecrets *lateSecrets
}

// authenticator builds the request authenticator, in upstream's order: client certificates, then bearer
// tokens (service account tokens first) (each token authenticator passes on tokens that are not its kind; a token no one accepts is a 401),
// then anonymous.
// sa, when set, authenticates service account tokens (signed by this cluster): it passes on other tokens.
func authenticator(ctx context.Context, cfg AuthenticationConfig, sa auth.Authenticator) (*authn, error) {
	a := &authn{}
	var tokens auth.BearerToken
	if cfg.TokenAuthFile != "" {
		f, err := tokenfile.Load(cfg.TokenAuthFile)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, f)
	}
	if cfg.BootstrapTokenAuth {
		a.bootstrapSecrets = &lateSecrets{}
		tokens = append(tokens, &bootstraptoken.Authenticator{Secrets: a.bootstrapSecrets})
	}
	var issuers []oidc.Options
	anonymous := auth.Anonymous{}
	enableAnonymous := cfg.AnonymousAuth
	if cfg.ConfigFile != "" {
		if cfg.OIDC.Set() {
			return nil, errors.New("--authentication-config and the --oidc-* flags are mutually exclusive")
		}
		file, err := authnconfig.Load(cfg.ConfigFile)
		if err != nil {
			return nil, err
		}
		issuers = file.JWT
		if file.Anonymous != nil {
			if cfg.AnonymousAuthExplicit {
				return nil, errors.New("--authentication-config with an anonymous section and --anonymous-auth are mutually exclusive")
			}
			enableAnonymous = file.Anonymous.Enabled
			for _, c := range file.Anonymous.Conditions {
				anonymous.Paths = append(anonymous.Paths, c.Path)
			}
		}
	} else if cfg.OIDC.Set() {
		o, err := cfg.OIDC.Options()
		if err != nil {
			return nil, err
		}
		issuers = []oidc.Options{o}
	}
	for _, o := range issuers {
		oa, err := oidc.New(ctx, o)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, oa)
	}
	chain := auth.Chain{auth.X509{}}
	if sa != nil {
		chain = append(chain, sa)
	}
	if len(tokens) > 0 {
		chain = append(chain, tokens)
	}
	a.Authenticator = chain
	if enableAnonymous {
		anonymous.Authenticator = chain
		a.Authenticator = anonymous
	}
	return a, nil
}

// start runs what the authenticators read from the API: an informer on kube-system's bootstrap token Secrets.
// Until its cache has synced, bootstrap tokens are refused.
func (a *authn) start(ctx context.Context, client kubernetes.Interface) {
	if a.bootstrapSecrets == nil {
		return
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(bootstraptoken.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("type", string(bootstraptoken.SecretType)).String()
		}))
	secrets := factory.Core().V1().Secrets()
	lister := secrets.Lister().Secrets(bootstraptoken.Namespace)
	factory.Start(ctx.Done())
	go func() {
		if !cache.WaitForCacheSync(ctx.Done(), secrets.Informer().HasSynced) {
			return
		}
		a.bootstrapSecrets.set(lister)
		slog.Debug("bootstrap token authenticator ready")
	}()
}

// lateSecrets is a SecretGetter that finds nothing until its lister is set.
type lateSecrets struct {
	g atomic.Pointer[bootstraptoken.SecretGetter]
}

func (l *lateSecrets) set(g bootstraptoken.SecretGetter) { l.g.Store(&g) }

func (l *lateSecrets) Get(name string) (*corev1.Secret, error) {
	g := l.g.Load()
	if g == nil {
		return nil, apierrors.NewNotFound(corev1.Resource("secrets"), name)
	}
	return (*g).Get(name)
}
