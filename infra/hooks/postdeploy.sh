#!/bin/sh
# azd postdeploy hook: subscribe the packageDropped Event Grid trigger to BlobCreated events of
# the drops container. Re-running updates the subscription in place (create is create-or-update).
# azd passes the Bicep outputs as environment variables. The system key is never printed and is
# never on a command line (process lists, CI logs): az prints it to a variable, and the endpoint
# that carries it reaches az in a private temporary file (`--endpoint @file`, az's documented
# convention for loading an argument's value from a file).
set -eu

: "${AZURE_RESOURCE_GROUP:?run through azd (azd up / azd deploy): AZURE_RESOURCE_GROUP is not set}"
: "${AZURE_FUNCTION_APP_NAME:?AZURE_FUNCTION_APP_NAME is not set}"
: "${AZURE_STORAGE_ACCOUNT_ID:?AZURE_STORAGE_ACCOUNT_ID is not set}"
: "${EVENTGRID_SYSTEM_TOPIC_NAME:?EVENTGRID_SYSTEM_TOPIC_NAME is not set}"
: "${EVENTGRID_DEADLETTER_CONTAINER:?EVENTGRID_DEADLETTER_CONTAINER is not set}"
: "${DROPS_CONTAINER:?DROPS_CONTAINER is not set}"
FUNCTION_NAME="${PACKAGE_DROPPED_FUNCTION:-packageDropped}"
SUBSCRIPTION_NAME="${EVENTGRID_SUBSCRIPTION_NAME:-package-dropped}"
# Event Grid retries a failed delivery with backoff for up to 24 h, then dead-letters it.
MAX_DELIVERY_ATTEMPTS="${EVENTGRID_MAX_DELIVERY_ATTEMPTS:-30}"
EVENT_TTL_MINUTES="${EVENTGRID_EVENT_TTL_MINUTES:-1440}"

host=$(az functionapp show --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
  --query defaultHostName --output tsv)

# The host creates the eventgrid_extension key when it first loads an Event Grid trigger, which can
# take a little while after a deployment.
key=""
attempt=1
while [ "$attempt" -le 12 ]; do
  key=$(az functionapp keys list --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
    --query systemKeys.eventgrid_extension --output tsv 2>/dev/null || true)
  [ -n "$key" ] && break
  echo "postdeploy: waiting for the eventgrid_extension system key ($attempt/12)"
  attempt=$((attempt + 1))
  sleep 10
done
if [ -z "$key" ]; then
  echo "postdeploy: the function app has no eventgrid_extension system key; is $FUNCTION_NAME deployed?" >&2
  exit 1
fi

# Written with the shell's printf builtin: an external printf would get the key as an argument.
case "$(command -v printf)" in
  */*) echo "postdeploy: printf is not a builtin of this sh; refusing to pass the key to a process" >&2; exit 1 ;;
esac
umask 077
endpoint_file=$(mktemp)
trap 'rm -f "$endpoint_file"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
printf '%s' "https://$host/runtime/webhooks/eventgrid?functionName=$FUNCTION_NAME&code=$key" > "$endpoint_file"

echo "postdeploy: subscribing $FUNCTION_NAME on $host to BlobCreated in container $DROPS_CONTAINER"
az eventgrid system-topic event-subscription create \
  --name "$SUBSCRIPTION_NAME" \
  --resource-group "$AZURE_RESOURCE_GROUP" \
  --system-topic-name "$EVENTGRID_SYSTEM_TOPIC_NAME" \
  --endpoint-type webhook \
  --endpoint "@$endpoint_file" \
  --event-delivery-schema eventgridschema \
  --included-event-types Microsoft.Storage.BlobCreated \
  --subject-begins-with "/blobServices/default/containers/$DROPS_CONTAINER/" \
  --max-delivery-attempts "$MAX_DELIVERY_ATTEMPTS" \
  --event-ttl "$EVENT_TTL_MINUTES" \
  --deadletter-identity systemassigned \
  --deadletter-identity-endpoint "$AZURE_STORAGE_ACCOUNT_ID/blobServices/default/containers/$EVENTGRID_DEADLETTER_CONTAINER" \
  --output none
echo "postdeploy: Event Grid subscription $SUBSCRIPTION_NAME is in place"
