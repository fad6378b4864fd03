// The app's storage account: host storage (AzureWebJobsStorage), Durable state (Azure Storage
// backend), the app's containers, the Flex deployment package and Event Grid dead letters.
// Keys are disabled: every client (host, app, deployment, Event Grid) authenticates with Entra ID.
param name string
param location string
param tags object
param containers string[]

// Issue 28: every version of a dropped package stays readable (the result manifest names the
// version id Microsoft was given), and a deleted or overwritten blob can be brought back within
// the retention period. Versioning is an account-wide setting of the blob service.
@description('Days a deleted blob or container (and a deleted blob version) can be restored. 1-365; default 30.')
@minValue(1)
@maxValue(365)
param deleteRetentionDays int = 30

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // Public endpoint on purpose: the server-side copy is performed by Microsoft's storage (the
    // Hardware Dev Center upload location), which reads our package with a user-delegation SAS
    // from outside any network of ours. Access still needs Entra ID or that short-lived SAS.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    // Every overwrite keeps the previous version (x-ms-version-id), so the drops container keeps every package version.
    isVersioningEnabled: true
    deleteRetentionPolicy: {
      enabled: true
      days: deleteRetentionDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: deleteRetentionDays
    }
  }
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in containers: {
    parent: blobService
    name: container
    properties: {
      publicAccess: 'None'
    }
  }
]

output name string = account.name
output id string = account.id
