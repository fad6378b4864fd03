// Driver signing on Azure Functions: everything `azd up` needs, from an empty subscription.
// Subscription scope, like the official azd templates: it creates the resource group
// rg-<environmentName> and deploys infra/app/*.bicep (local modules only, so the template
// compiles offline; see docs/deploy.md).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name: names the resource group and tags every resource.')
param environmentName string

@minLength(1)
@description('Azure region (must offer the Flex Consumption plan).')
param location string

@description('Object id of whoever runs azd (azd fills AZURE_PRINCIPAL_ID). Gets upload rights on the drops container, read rights on the signed container and, in keyVaultSecret mode, the right to set the secret. Empty: no operator roles.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
])
@description('Kind of principalId: User for a person, ServicePrincipal for a CI identity.')
param principalType string = 'User'

@minLength(1)
@description('HDC_TENANT_ID: Entra tenant (id or domain) of the app registration added to Partner Center.')
param hdcTenantId string

@minLength(36)
@maxLength(36)
@description('HDC_CLIENT_ID: application (client) id of that app registration.')
param hdcClientId string

@allowed([
  'managedIdentity'
  'keyVaultSecret'
])
@description('HDC_AUTH_MODE. managedIdentity (default, no secret anywhere): the app registration trusts the function app\'s user-assigned identity through a federated credential. keyVaultSecret: a client secret kept in a Key Vault this template creates.')
param hdcAuthMode string = 'managedIdentity'

@minLength(1)
@description('HDC_KEYVAULT_SECRET_NAME: name of the client secret in the vault (keyVaultSecret mode only).')
param hdcKeyVaultSecretName string = 'hdc-client-secret'

@allowed([
  'azureStorage'
  'durableTaskScheduler'
])
@description('Durable Functions backend: azureStorage (host.json default) or durableTaskScheduler (a Consumption scheduler and task hub; host.json is overridden by app settings).')
param durableBackend string = 'azureStorage'

@allowed([
  512
  2048
  4096
])
@description('Flex Consumption instance memory (MB).')
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(1000)
@description('Flex Consumption scale-out limit. Also bounds concurrent Hardware Dev Center calls.')
param maximumInstanceCount int = 40

@description('DROPS_CONTAINER: where packages are dropped (the Event Grid subscription watches it).')
param dropsContainer string = 'driver-drops'

@description('SIGNED_CONTAINER: signed packages, driver metadata and manifests.')
param signedContainer string = 'signed-drivers'

@description('STATE_CONTAINER: checkpoints that prevent duplicate products and submissions.')
param stateContainer string = 'signing-state'

@description('AUDIT_CONTAINER: the audit trail (issue 33), one blob per record, under a time-based immutability policy.')
param auditContainer string = 'signing-audit'

@minValue(1)
@maxValue(146000)
@description('Days each audit record stays immutable (cannot be overwritten or deleted, even by an account owner) after it is written.')
param auditRetentionDays int = 365

@minValue(1)
@maxValue(365)
@description('Days a deleted or overwritten blob (a package version included) or a deleted container can be restored (blob and container soft delete; versioning is always on).')
param deleteRetentionDays int = 30

@description('More app settings (e.g. {"POLL_MAX_SECONDS":"600"}); every setting in the README table may go here. They cannot replace the settings this template computes (identity, storage, HDC ids, containers).')
param extraAppSettings object = {}

@description('API_CLIENT_ID: application (client) id of the API app registration that callers get tokens for (infra/hooks/app-registration.sh creates it and sets this). Empty: no App Service Authentication (function keys only; local demo).')
param apiClientId string = ''

@description('Tenant of the API app registration.')
param apiTenantId string = tenant().tenantId

@description('Client application ids allowed to call the API (Easy Auth allowedApplications / allowedClientApplications). Empty: any client of the tenant; the app still requires one of the Sign.* app roles.')
param apiAllowedClientApplications array = []

@description('App Service Authentication (Entra ID) in front of the app. Defaults to on when apiClientId is given.')
param appServiceAuth bool = !empty(apiClientId)

var tags = {
  'azd-env-name': environmentName
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module app './app/resources.bicep' = {
  name: 'driver-signing-resources'
  scope: rg
  params: {
    location: location
    tags: tags
    principalId: principalId
    principalType: principalType
    hdcTenantId: hdcTenantId
    hdcClientId: hdcClientId
    hdcAuthMode: hdcAuthMode
    hdcKeyVaultSecretName: hdcKeyVaultSecretName
    durableBackend: durableBackend
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    dropsContainer: dropsContainer
    signedContainer: signedContainer
    stateContainer: stateContainer
    auditContainer: auditContainer
    auditRetentionDays: auditRetentionDays
    deleteRetentionDays: deleteRetentionDays
    extraAppSettings: extraAppSettings
    apiClientId: apiClientId
    apiTenantId: apiTenantId
    apiAllowedClientApplications: apiAllowedClientApplications
    appServiceAuth: appServiceAuth
  }
}

// azd stores these in .azure/<env>/.env; the postdeploy hooks and docs/deploy.md read them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = app.outputs.functionAppName
output AZURE_FUNCTION_APP_HOSTNAME string = app.outputs.functionAppHostName
// Where people open the page: sign in first, then land on it (Easy Auth answers 401, not a redirect).
output DASHBOARD_SIGN_IN_URL string = appServiceAuth
  ? 'https://${app.outputs.functionAppHostName}/.auth/login/aad?post_login_redirect_uri=/api/dashboard'
  : 'https://${app.outputs.functionAppHostName}/api/dashboard'
output AZURE_STORAGE_ACCOUNT_NAME string = app.outputs.storageAccountName
output AZURE_STORAGE_ACCOUNT_ID string = app.outputs.storageAccountId
output EVENTGRID_SYSTEM_TOPIC_NAME string = app.outputs.systemTopicName
output EVENTGRID_DEADLETTER_CONTAINER string = app.outputs.deadLetterContainer
output PACKAGE_DROPPED_FUNCTION string = app.outputs.packageDroppedFunction
output DROPS_CONTAINER string = dropsContainer
output SIGNED_CONTAINER string = signedContainer
output HDC_AUTH_MODE string = hdcAuthMode
output MANAGED_IDENTITY_CLIENT_ID string = app.outputs.identityClientId
output MANAGED_IDENTITY_PRINCIPAL_ID string = app.outputs.identityPrincipalId
output KEY_VAULT_NAME string = app.outputs.keyVaultName
output DURABLE_TASK_SCHEDULER_ENDPOINT string = app.outputs.durableTaskSchedulerEndpoint
