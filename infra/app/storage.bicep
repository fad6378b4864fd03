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

@description('The audit trail container (issue 33).')
param auditContainer string

@description('Days each audit record stays immutable after it is written.')
@minValue(1)
@maxValue(146000)
param auditRetentionDays int = 365

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

// Issue 33: the audit trail cannot be rewritten. Each record is its own block blob, written once
// and never appended to, so a container-level time-based retention policy fits: every blob in the
// container is protected from overwrite and delete for auditRetentionDays from its creation, for
// everyone, the app and account owners included. Not a legal hold: that has no end, so records
// would pile up for ever and nothing could ever expire them. Not version-level immutability: it
// protects individual versions, must be enabled on the container at creation or on the account,
// and lets a writer overwrite the current blob (making a new version); a container-wide policy
// says "no overwrite" for every record at once. Protected append writes are off: there are no
// append blobs here, and allowing appends would let a record grow after it was written.
// The template leaves the policy unlocked (ARM creates it so; locking is a separate, irreversible
// call: az storage container immutability-policy lock). Blobs are protected either way; locking
// also stops anyone deleting or shortening the policy itself (docs/deploy.md).
resource auditBlobContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: auditContainer
  properties: {
    publicAccess: 'None'
  }
}

resource auditImmutability 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = {
  parent: auditBlobContainer
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: auditRetentionDays
    allowProtectedAppendWrites: false
  }
}

output name string = account.name
output id string = account.id
