// The Flex Consumption (FC1, Linux) function app on Node 22 with one user-assigned identity
// (and no system-assigned one), and every app setting src/config.ts needs. Nothing secret is in
// the settings: storage, Application Insights, Key Vault, the Durable Task Scheduler and Hardware
// Dev Center are all reached with the identity, each named by its client id (an SDK asked for a
// managed identity without one asks for the system-assigned identity, which this app lacks).
// test/infra/deployedSettings.test.ts loads these settings through the app's own code. On Flex the runtime comes from functionAppConfig, so
// FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE,
// WEBSITE_CONTENT* and WEBSITE_NODE_DEFAULT_VERSION are not set (Flex rejects them).
param planName string
param appName string
param location string
param tags object
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainer string
param appInsightsName string
param instanceMemoryMB int
param maximumInstanceCount int
param dropsContainer string
param signedContainer string
param stateContainer string
param auditContainer string
param hdcTenantId string
param hdcClientId string
param hdcAuthMode string
param keyVaultUri string
param hdcKeyVaultSecretName string
param durableBackend string
param durableTaskSchedulerEndpoint string
param taskHubName string
param extraAppSettings object
@allowed([
  'keys'
  'entra'
])
@description('AUTH_MODE: entra exactly when App Service Authentication is in front (infra/app/auth.bicep).')
param authMode string

var storageSuffix = environment().suffixes.storage
var blobEndpoint = 'https://${storageAccountName}.blob.${storageSuffix}'

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  // azd finds the app to deploy the `api` service to by this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}/${deploymentContainer}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// No publishing with user names and passwords: azd deploys with an Entra ID token.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

var identitySettings = {
  // Host storage, the Durable extension (Azure Storage backend) and the app's own blob client.
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: blobEndpoint
  AzureWebJobsStorage__queueServiceUri: 'https://${storageAccountName}.queue.${storageSuffix}'
  AzureWebJobsStorage__tableServiceUri: 'https://${storageAccountName}.table.${storageSuffix}'
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // The API's links (statusUrl, cancelUrl, Location) are built on this origin, never on the request's Host.
  PUBLIC_BASE_URL: 'https://${app.properties.defaultHostName}'
  DROPS_CONTAINER: dropsContainer
  SIGNED_CONTAINER: signedContainer
  STATE_CONTAINER: stateContainer
  AUDIT_CONTAINER: auditContainer
  HDC_TENANT_ID: hdcTenantId
  HDC_CLIENT_ID: hdcClientId
  HDC_AUTH_MODE: hdcAuthMode
  // Both modes use it: managedIdentity, as the identity the app registration's federated
  // credential trusts (docs/deploy.md); keyVaultSecret, to read the vault (it holds the role).
  HDC_MANAGED_IDENTITY_CLIENT_ID: identityClientId
  // entra: the app takes the caller from the X-MS-CLIENT-PRINCIPAL header Easy Auth injects (and
  // strips from clients). Computed here, never from extraAppSettings: entra without Easy Auth in
  // front would trust a header anyone can send.
  AUTH_MODE: authMode
}

var hdcModeSettings = hdcAuthMode == 'managedIdentity'
  ? {}
  : {
      HDC_KEYVAULT_URL: keyVaultUri
      HDC_KEYVAULT_SECRET_NAME: hdcKeyVaultSecretName
    }

// host.json names the Azure Storage provider; with the scheduler these settings override it
// (app settings AzureFunctionsJobHost__<path> replace host.json values).
var durableSettings = durableBackend != 'durableTaskScheduler'
  ? {}
  : {
      DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${durableTaskSchedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}'
      AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
      AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
      AzureFunctionsJobHost__extensions__durableTask__hubName: taskHubName
    }

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  // Computed settings come last so extraAppSettings cannot replace them.
  properties: union(extraAppSettings, identitySettings, hdcModeSettings, durableSettings)
}

output name string = app.name
output defaultHostName string = app.properties.defaultHostName
