# azd preprovision/postprovision hook for Windows (azure.yaml runs app-registration.sh elsewhere): same as
# app-registration.sh. Creates or updates the API's Entra app registration (four Sign.* app roles with fixed
# ids, identifier URI api://<client id>, v2 tokens, the user_impersonation scope pre-authorised for the Azure
# CLI, the page's Easy Auth callback once the app exists, a service principal with assignment required) and
# sets API_CLIENT_ID in the azd environment. No secret is created. JSON reaches az as '@file' arguments.
# API_APP_REGISTRATION=skip: do nothing.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

if ($env:API_APP_REGISTRATION -eq 'skip') {
  Write-Host 'app-registration: API_APP_REGISTRATION=skip; leaving the app registration alone'
  exit 0
}

$dir = Join-Path $PSScriptRoot 'app-registration'
$rolesFile = Join-Path $dir 'app-roles.json'
$name = $env:API_APP_NAME
if (-not $name) {
  if (-not $env:AZURE_ENV_NAME) { throw 'AZURE_ENV_NAME is not set (run through azd, or set API_APP_NAME)' }
  $name = "driver-signing-api-$($env:AZURE_ENV_NAME)"
}

function Invoke-Az {
  $output = & az @args
  if ($LASTEXITCODE -ne 0) { throw "az $($args[0..2] -join ' ') failed" }
  $output
}

$appId = ''
if ($env:API_CLIENT_ID) {
  $appId = az ad app show --id $env:API_CLIENT_ID --query appId --output tsv 2>$null
  if ($LASTEXITCODE -ne 0 -or -not $appId) {
    throw "API_CLIENT_ID=$($env:API_CLIENT_ID) names no app registration in this tenant (az ad app show found none); unset it with 'azd env set API_CLIENT_ID `"`"' to create one"
  }
} else {
  $found = @(Invoke-Az ad app list --display-name $name --query '[].appId' --output tsv | Where-Object { $_ })
  if ($found.Count -gt 1) { throw "$($found.Count) app registrations are named '$name'; set API_CLIENT_ID to the right one" }
  if ($found.Count -eq 1) { $appId = $found[0] }
}

if (-not $appId) {
  Write-Host "app-registration: creating app registration '$name'"
  $appId = Invoke-Az ad app create --display-name $name --sign-in-audience AzureADMyOrg `
    --app-roles "@$rolesFile" --query appId --output tsv
} else {
  Write-Host "app-registration: updating app registration $appId"
}

$objectId = Invoke-Az ad app show --id $appId --query id --output tsv

Invoke-Az ad app update --id $appId --identifier-uris "api://$appId" --app-roles "@$rolesFile" | Out-Null

# The scope must exist before the pre-authorisation that names it.
$graph = "https://graph.microsoft.com/v1.0/applications/$objectId"
Invoke-Az rest --method PATCH --uri $graph --headers 'Content-Type=application/json' --body "@$(Join-Path $dir 'api-scopes.json')" --output none | Out-Null
Invoke-Az rest --method PATCH --uri $graph --headers 'Content-Type=application/json' --body "@$(Join-Path $dir 'api.json')" --output none | Out-Null

if ($env:AZURE_FUNCTION_APP_HOSTNAME) {
  Invoke-Az ad app update --id $appId `
    --web-redirect-uris "https://$($env:AZURE_FUNCTION_APP_HOSTNAME)/.auth/login/aad/callback" `
    --enable-id-token-issuance true | Out-Null
}

$sp = Invoke-Az ad sp list --filter "appId eq '$appId'" --query '[].id' --output tsv
if (-not $sp) { Invoke-Az ad sp create --id $appId --output none | Out-Null }
Invoke-Az ad sp update --id $appId --set appRoleAssignmentRequired=true | Out-Null

azd env set API_CLIENT_ID $appId
if ($LASTEXITCODE -ne 0) { throw 'azd env set API_CLIENT_ID failed' }
Write-Host "app-registration: API_CLIENT_ID=$appId (app id URI api://$appId); grant the Sign.* roles as docs/deploy.md shows"
