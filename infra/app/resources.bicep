// Everything inside the resource group. Names carry a token derived from the group's id, so
// one environment is one set of resources and a re-run updates them in place.
param location string
param tags object
param principalId string
param principalType string
param hdcTenantId string
param hdcClientId string
param hdcAuthMode string
param hdcKeyVaultSecretName string
param durableBackend string
param instanceMemoryMB int
param maximumInstanceCount int
param dropsContainer string
param signedContainer string
param stateContainer string
param auditContainer string
param auditRetentionDays int
param deleteRetentionDays int
param extraAppSettings object
param apiClientId string
param apiTenantId string
param apiAllowedClientApplications array
param appServiceAuth bool

var token = toLower(uniqueString(subscription().id, resourceGroup().id, location))
var useKeyVault = hdcAuthMode == 'keyVaultSecret'
var useDts = durableBackend == 'durableTaskScheduler'
// The Flex deployment package and Event Grid's dead letters live beside the app's containers.
var deploymentContainer = 'app-package-${token}'
var deadLetterContainer = 'eventgrid-deadletter'
// Hub name for the Durable Task Scheduler (host.json's hubName is used with Azure Storage).
var taskHubName = 'driversigning'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${token}'
  location: location
  tags: tags
}

module storage './storage.bicep' = {
  name: 'storage'
  params: {
    name: 'st${token}'
    location: location
    tags: tags
    deleteRetentionDays: deleteRetentionDays
    auditContainer: auditContainer
    auditRetentionDays: auditRetentionDays
    containers: [
      dropsContainer
      signedContainer
      stateContainer
      deploymentContainer
      deadLetterContainer
    ]
  }
}

module monitoring './monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-${token}'
    appInsightsName: 'appi-${token}'
    location: location
    tags: tags
  }
}

module vault './keyvault.bicep' = if (useKeyVault) {
  name: 'keyvault'
  params: {
    name: 'kv-${token}'
    location: location
    tags: tags
  }
}

module dts './dts.bicep' = if (useDts) {
  name: 'durable-task-scheduler'
  params: {
    name: 'dts-${token}'
    taskHubName: taskHubName
    location: location
    tags: tags
  }
}

module eventGrid './eventgrid.bicep' = {
  name: 'eventgrid'
  params: {
    name: 'evgt-${token}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
  }
}

module function './function.bicep' = {
  name: 'function'
  params: {
    planName: 'plan-${token}'
    appName: 'func-${token}'
    location: location
    tags: tags
    identityId: identity.id
    identityClientId: identity.properties.clientId
    storageAccountName: storage.outputs.name
    deploymentContainer: deploymentContainer
    appInsightsName: monitoring.outputs.appInsightsName
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    dropsContainer: dropsContainer
    signedContainer: signedContainer
    stateContainer: stateContainer
    auditContainer: auditContainer
    hdcTenantId: hdcTenantId
    hdcClientId: hdcClientId
    hdcAuthMode: hdcAuthMode
    keyVaultUri: useKeyVault ? vault!.outputs.uri : ''
    hdcKeyVaultSecretName: hdcKeyVaultSecretName
    durableBackend: durableBackend
    durableTaskSchedulerEndpoint: useDts ? dts!.outputs.endpoint : ''
    taskHubName: taskHubName
    extraAppSettings: extraAppSettings
    authMode: appServiceAuth ? 'entra' : 'keys'
  }
}

module auth './auth.bicep' = if (appServiceAuth) {
  name: 'auth'
  params: {
    appName: function.outputs.name
    apiClientId: apiClientId
    apiTenantId: apiTenantId
    allowedClientApplications: apiAllowedClientApplications
  }
}

module rbac './rbac.bicep' = {
  name: 'rbac'
  params: {
    identityPrincipalId: identity.properties.principalId
    storageAccountName: storage.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    keyVaultName: useKeyVault ? vault!.outputs.name : ''
    durableBackend: durableBackend
    schedulerName: useDts ? dts!.outputs.name : ''
    taskHubName: taskHubName
    systemTopicPrincipalId: eventGrid.outputs.principalId
    deadLetterContainer: deadLetterContainer
    dropsContainer: dropsContainer
    signedContainer: signedContainer
    principalId: principalId
    principalType: principalType
  }
}

output functionAppName string = function.outputs.name
output functionAppHostName string = function.outputs.defaultHostName
output storageAccountName string = storage.outputs.name
output storageAccountId string = storage.outputs.id
output systemTopicName string = eventGrid.outputs.name
output deadLetterContainer string = deadLetterContainer
output packageDroppedFunction string = 'packageDropped'
output identityClientId string = identity.properties.clientId
output identityPrincipalId string = identity.properties.principalId
output keyVaultName string = useKeyVault ? vault!.outputs.name : ''
output durableTaskSchedulerEndpoint string = useDts ? dts!.outputs.endpoint : ''
