// App Service Authentication ("Easy Auth" v2) in front of the function app: every request needs a
// valid Entra ID token (or the page's sign-in session) for the API's app registration, made by
// infra/hooks/app-registration.sh. The platform validates signature, issuer, audience and expiry,
// strips any X-MS-CLIENT-PRINCIPAL* header a client sends and injects its own; the app reads only
// that. Easy Auth does not check app roles: the app does (src/identity).
param appName string

@description('Application (client) id of the API app registration.')
param apiClientId string

@description('Tenant of that registration.')
param apiTenantId string

@description('Client application ids allowed to call the API; empty: any client application of the tenant (callers still need an app role, which the app checks).')
param allowedClientApplications array

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: appName
}

// Paths Easy Auth must leave to the Functions host's own key check. Event Grid delivers
// BlobCreated events (and the subscription validation handshake) to the Event Grid extension's
// webhook with the eventgrid_extension system key in ?code= and no bearer token; Easy Auth would
// answer 401 and the subscription would never validate. The Durable extension's webhooks
// (/runtime/webhooks/durabletask) are NOT excluded: nothing in this app hands out their URLs and the
// orchestration engine does not call them over the front end, so an operator who uses them with the
// durabletask_extension key must also bring a token. No /api/ path is excluded.
var excludedPaths = [
  '/runtime/webhooks/eventgrid'
]

// appServiceAuth=true with no client id would put an Easy Auth in front that accepts no token.
var clientId = empty(apiClientId)
  ? fail('apiClientId: required when appServiceAuth is true (run infra/hooks/app-registration.sh, which sets API_CLIENT_ID)')
  : apiClientId

var restrictClients = !empty(allowedClientApplications)

resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
      runtimeVersion: '~1'
    }
    globalValidation: {
      requireAuthentication: true
      // One action applies to every path (excludedPaths can only exempt paths, not pick another
      // action for them), and the API is most of the app: Return401, so driver-sign, the GitHub
      // Action and the page's fetch calls get a 401 they can act on instead of a 302 to an HTML
      // login page. The page (/api/dashboard, a static shell) is opened through the sign-in
      // endpoint, /.auth/login/aad?post_login_redirect_uri=/api/dashboard (output
      // DASHBOARD_SIGN_IN_URL; /.auth/* is always reachable); the session cookie that sign-in
      // sets then carries the page and its API calls. Excluding the page path instead would leave
      // a route of the app open to anonymous callers.
      unauthenticatedClientAction: 'Return401'
      excludedPaths: excludedPaths
    }
    httpSettings: {
      requireHttps: true
      routes: {
        apiPrefix: '/.auth'
      }
      forwardProxy: {
        convention: 'NoProxy'
      }
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: clientId
          // The script sets api.requestedAccessTokenVersion = 2 on the registration, so its access
          // tokens are v2: iss https://login.microsoftonline.com/<tenant>/v2.0 and aud the client
          // id. v2 is what new registrations and @azure/identity's `.default` requests are
          // documented with; the v1 issuer (sts.windows.net) would only be right for a registration
          // left on v1 tokens. No client secret: the page's sign-in uses the ID-token (implicit)
          // flow, and nothing here redeems a code.
          openIdIssuer: '${environment().authentication.loginEndpoint}${apiTenantId}/v2.0'
        }
        validation: {
          // v2 access tokens and ID tokens carry the client id; v1 tokens (a caller asking for the
          // app id URI's resource) carry api://<client id>.
          allowedAudiences: [
            'api://${clientId}'
            clientId
          ]
          jwtClaimChecks: restrictClients
            ? {
                allowedClientApplications: allowedClientApplications
              }
            : {}
          defaultAuthorizationPolicy: restrictClients
            ? {
                allowedApplications: allowedClientApplications
              }
            : {}
        }
        // The app gets the principal from X-MS-CLIENT-PRINCIPAL; it never needs the raw tokens.
        isAutoProvisioned: false
      }
    }
    login: {
      // No token store: nothing of the caller's tokens is kept by the platform.
      tokenStore: {
        enabled: false
      }
      preserveUrlFragmentsForLogins: false
    }
  }
}

output excludedPaths array = excludedPaths
