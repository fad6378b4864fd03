// Role assignments: exactly what the app, the host, Event Grid and the operator do, no more.
// test/infra/infra.test.ts holds the same table (operation -> role -> scope) and fails on any
// assignment that is missing or not in it.
param identityPrincipalId string
param storageAccountName string
param appInsightsName string
param keyVaultName string
param durableBackend string
param schedulerName string
param taskHubName string
param systemTopicPrincipalId string
param deadLetterContainer string
param dropsContainer string
param signedContainer string
param principalId string
param principalType string

var roles = {
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  durableTaskDataContributor: '0ad04412-c4d5-4796-b79c-f76d14c8d402'
}
var useAzureStorageBackend = durableBackend == 'azureStorage'
var useKeyVault = !empty(keyVaultName)
var useDts = !empty(schedulerName)
var hasOperator = !empty(principalId)

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource deadLetters 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: deadLetterContainer
}

resource drops 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: dropsContainer
}

resource signed 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: signedContainer
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// Blob data on the account. The app reads packages and sidecars in the drops container, writes
// signed packages, manifests and checkpoints (signed/state containers, creating them if
// missing), and creates user-delegation keys for the read SAS that the server-side copy uses;
// the host keeps leases and keys in azure-webjobs-* containers, the Durable extension its
// lease/large-message containers, and Flex reads the deployment package. Storage Blob Data
// Contributor covers all of it, including generateUserDelegationKey/action, so Storage Blob
// Delegator would add nothing. Storage Blob Data Owner (what the official templates assign) adds
// only ACL and ownership management for hierarchical-namespace accounts, which this account
// is not, so it is not granted.
resource appBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, identityPrincipalId, roles.storageBlobDataContributor)
  scope: account
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
  }
}

// Durable Functions (Azure Storage backend): control and work-item queues.
resource appQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useAzureStorageBackend) {
  name: guid(account.id, identityPrincipalId, roles.storageQueueDataContributor)
  scope: account
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
  }
}

// Durable Functions (Azure Storage backend): History and Instances tables, which the app's
// status and list endpoints also query through the Durable client.
resource appTable 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useAzureStorageBackend) {
  name: guid(account.id, identityPrincipalId, roles.storageTableDataContributor)
  scope: account
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
  }
}

// Telemetry to Application Insights with Entra ID (local auth is disabled on the component).
resource appMetrics 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identityPrincipalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = if (useKeyVault) {
  name: useKeyVault ? keyVaultName : 'unused'
}

// keyVaultSecret mode: the authenticate activity reads the client secret (secrets/get). The
// vault holds nothing else; the secret itself cannot be the scope because it does not exist
// until the operator sets it after provisioning.
resource appSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useKeyVault) {
  name: guid(vault.id, identityPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' existing = if (useDts) {
  name: useDts ? schedulerName : 'unused'
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' existing = if (useDts) {
  parent: scheduler
  name: taskHubName
}

// Durable Task Scheduler backend: orchestration state and work items, on the one task hub.
resource appDts 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useDts) {
  name: guid(taskHub.id, identityPrincipalId, roles.durableTaskDataContributor)
  scope: taskHub
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.durableTaskDataContributor)
  }
}

// Event Grid writes undeliverable BlobCreated events to the dead-letter container with the
// system topic's own identity (the subscription uses --deadletter-identity systemassigned).
resource eventGridDeadLetter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetters.id, systemTopicPrincipalId, roles.storageBlobDataContributor)
  scope: deadLetters
  properties: {
    principalId: systemTopicPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
  }
}

// The operator (whoever ran azd) uploads packages and sidecars to the drops container with
// `az storage blob upload --auth-mode login`.
resource operatorDrops 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperator) {
  name: guid(drops.id, principalId, roles.storageBlobDataContributor)
  scope: drops
  properties: {
    principalId: principalId
    principalType: principalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
  }
}

// ... and downloads signed packages and manifests.
resource operatorSigned 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperator) {
  name: guid(signed.id, principalId, roles.storageBlobDataReader)
  scope: signed
  properties: {
    principalId: principalId
    principalType: principalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
  }
}

// keyVaultSecret mode: the operator sets the client secret once after provisioning.
resource operatorSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperator && useKeyVault) {
  name: guid(vault.id, principalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: principalId
    principalType: principalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
  }
}
