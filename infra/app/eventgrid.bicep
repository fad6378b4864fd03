// The storage account's system topic. The subscription to BlobCreated in the drops container is
// made by infra/hooks/postdeploy.* because its webhook needs the eventgrid_extension system key,
// which exists only once the code is deployed. The topic's system-assigned identity writes dead
// letters (rbac.bicep gives it rights on the dead-letter container only): no key, no SAS.
param name string
param location string
param tags object
param storageAccountName string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: account.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output name string = systemTopic.name
output principalId string = systemTopic.identity.principalId
