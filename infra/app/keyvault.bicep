// Only for HDC_AUTH_MODE=keyVaultSecret: holds the Partner Center app registration's client
// secret. RBAC authorization (no access policies); the app reads it with Key Vault Secrets User.
param name string
param location string
param tags object

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    accessPolicies: []
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    // Purge protection stays off so `azd down --purge` can remove the vault; turn it on for
    // production vaults that must survive a mistaken delete.
    publicNetworkAccess: 'Enabled'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
