# azd postdeploy hook for Windows (azure.yaml runs postdeploy.sh elsewhere): same as postdeploy.sh. Subscribes the packageDropped Event Grid
# trigger to BlobCreated events of the drops container. The system key is never printed and never on a command
# line: the endpoint that carries it reaches az in a private temporary file (`--endpoint '@file'`).
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

foreach ($name in 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'AZURE_STORAGE_ACCOUNT_ID',
  'EVENTGRID_SYSTEM_TOPIC_NAME', 'EVENTGRID_DEADLETTER_CONTAINER', 'DROPS_CONTAINER') {
  if (-not [Environment]::GetEnvironmentVariable($name)) { throw "$name is not set (run through azd up / azd deploy)" }
}
$functionName = if ($env:PACKAGE_DROPPED_FUNCTION) { $env:PACKAGE_DROPPED_FUNCTION } else { 'packageDropped' }
$subscriptionName = if ($env:EVENTGRID_SUBSCRIPTION_NAME) { $env:EVENTGRID_SUBSCRIPTION_NAME } else { 'package-dropped' }
# Event Grid retries a failed delivery with backoff for up to 24 h, then dead-letters it.
$maxDeliveryAttempts = if ($env:EVENTGRID_MAX_DELIVERY_ATTEMPTS) { $env:EVENTGRID_MAX_DELIVERY_ATTEMPTS } else { '30' }
$eventTtlMinutes = if ($env:EVENTGRID_EVENT_TTL_MINUTES) { $env:EVENTGRID_EVENT_TTL_MINUTES } else { '1440' }

$appHost = az functionapp show --resource-group $env:AZURE_RESOURCE_GROUP --name $env:AZURE_FUNCTION_APP_NAME `
  --query defaultHostName --output tsv
if ($LASTEXITCODE -ne 0) { throw 'az functionapp show failed' }

$key = ''
for ($attempt = 1; $attempt -le 12; $attempt++) {
  $key = az functionapp keys list --resource-group $env:AZURE_RESOURCE_GROUP --name $env:AZURE_FUNCTION_APP_NAME `
    --query systemKeys.eventgrid_extension --output tsv 2>$null
  if ($LASTEXITCODE -eq 0 -and $key) { break }
  Write-Host "postdeploy: waiting for the eventgrid_extension system key ($attempt/12)"
  Start-Sleep -Seconds 10
}
if (-not $key) { throw "the function app has no eventgrid_extension system key; is $functionName deployed?" }

# The endpoint goes to a temporary file written in-process (no child process sees the key); az loads an
# `@path` argument's value from the file. GetTempFileName creates it empty in the user's own temp folder,
# and the finally block removes it whatever happens. The value needs no quotes for az.cmd: cmd.exe only
# sees the path, never the '&' of the URL.
$endpointFile = [System.IO.Path]::GetTempFileName()
try {
  [System.IO.File]::WriteAllText($endpointFile, "https://$appHost/runtime/webhooks/eventgrid?functionName=$functionName&code=$key")

  Write-Host "postdeploy: subscribing $functionName on $appHost to BlobCreated in container $($env:DROPS_CONTAINER)"
  az eventgrid system-topic event-subscription create `
    --name $subscriptionName `
    --resource-group $env:AZURE_RESOURCE_GROUP `
    --system-topic-name $env:EVENTGRID_SYSTEM_TOPIC_NAME `
    --endpoint-type webhook `
    --endpoint "@$endpointFile" `
    --event-delivery-schema eventgridschema `
    --included-event-types Microsoft.Storage.BlobCreated `
    --subject-begins-with "/blobServices/default/containers/$($env:DROPS_CONTAINER)/" `
    --max-delivery-attempts $maxDeliveryAttempts `
    --event-ttl $eventTtlMinutes `
    --deadletter-identity systemassigned `
    --deadletter-identity-endpoint "$($env:AZURE_STORAGE_ACCOUNT_ID)/blobServices/default/containers/$($env:EVENTGRID_DEADLETTER_CONTAINER)" `
    --output none
  if ($LASTEXITCODE -ne 0) { throw 'az eventgrid system-topic event-subscription create failed' }
}
finally {
  Remove-Item -LiteralPath $endpointFile -Force -ErrorAction SilentlyContinue
}
Write-Host "postdeploy: Event Grid subscription $subscriptionName is in place"
