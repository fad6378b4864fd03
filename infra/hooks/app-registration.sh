#!/bin/sh
# azd preprovision/postprovision hook (also runnable by hand after `azd env select`): creates or
# updates the API's Entra app registration that App Service Authentication trusts
# (infra/app/auth.bicep), and writes its client id into the azd environment as API_CLIENT_ID,
# which main.parameters.json hands to the Bicep. Plain Bicep cannot create app registrations.
#
# What it sets, every run (re-running updates in place, it never makes a second registration):
# - the four app roles of app-registration/app-roles.json (Sign.Submit, Sign.Publish,
#   Sign.Approve, Sign.Operate; User and Application; fixed ids, so assignments survive);
# - the identifier URI api://<client id>;
# - v2 access tokens and one delegated scope, user_impersonation, pre-authorised for the Azure CLI
#   so `az login` users (driver-sign with AzureCliCredential) get a token without a consent prompt
#   (app-registration/api-scopes.json, then api.json: the scope must exist before it is referenced);
# - once the function app exists (postprovision: AZURE_FUNCTION_APP_HOSTNAME), the page's sign-in
#   redirect URI https://<host>/.auth/login/aad/callback with ID tokens enabled;
# - a service principal (enterprise application) with assignment required, so only callers
#   holding one of the roles get a token at all.
# No client secret or certificate is created: pipelines use federated credentials on their own
# app registration (docs/deploy.md). JSON reaches az as @file arguments, not on command lines.
# API_APP_REGISTRATION=skip: do nothing (an administrator manages the registration and gave you
# API_CLIENT_ID; or function keys only, local demo).
set -eu

if [ "${API_APP_REGISTRATION:-}" = "skip" ]; then
  echo "app-registration: API_APP_REGISTRATION=skip; leaving the app registration alone"
  exit 0
fi

dir=$(cd "$(dirname "$0")/app-registration" && pwd)
name="${API_APP_NAME:-}"
if [ -z "$name" ]; then
  : "${AZURE_ENV_NAME:?run through azd (or set API_APP_NAME): AZURE_ENV_NAME is not set}"
  name="driver-signing-api-$AZURE_ENV_NAME"
fi

# Find the registration: the client id azd already holds, else the one display name.
app_id=""
if [ -n "${API_CLIENT_ID:-}" ]; then
  app_id=$(az ad app show --id "$API_CLIENT_ID" --query appId --output tsv 2>/dev/null || true)
  if [ -z "$app_id" ]; then
    echo "app-registration: API_CLIENT_ID=$API_CLIENT_ID names no app registration in this tenant (az ad app show found none); unset it with 'azd env set API_CLIENT_ID \"\"' to create one" >&2
    exit 1
  fi
else
  found=$(az ad app list --display-name "$name" --query "[].appId" --output tsv)
  count=$(printf '%s\n' "$found" | grep -c . || true)
  if [ "$count" -gt 1 ]; then
    echo "app-registration: $count app registrations are named '$name'; set API_CLIENT_ID to the right one" >&2
    exit 1
  fi
  app_id="$found"
fi

if [ -z "$app_id" ]; then
  echo "app-registration: creating app registration '$name'"
  app_id=$(az ad app create --display-name "$name" --sign-in-audience AzureADMyOrg \
    --app-roles "@$dir/app-roles.json" --query appId --output tsv)
else
  echo "app-registration: updating app registration $app_id"
fi

object_id=$(az ad app show --id "$app_id" --query id --output tsv)

az ad app update --id "$app_id" --identifier-uris "api://$app_id" --app-roles "@$dir/app-roles.json"

graph="https://graph.microsoft.com/v1.0/applications/$object_id"
az rest --method PATCH --uri "$graph" --headers "Content-Type=application/json" --body "@$dir/api-scopes.json" --output none
az rest --method PATCH --uri "$graph" --headers "Content-Type=application/json" --body "@$dir/api.json" --output none

if [ -n "${AZURE_FUNCTION_APP_HOSTNAME:-}" ]; then
  az ad app update --id "$app_id" \
    --web-redirect-uris "https://$AZURE_FUNCTION_APP_HOSTNAME/.auth/login/aad/callback" \
    --enable-id-token-issuance true
fi

if [ -z "$(az ad sp list --filter "appId eq '$app_id'" --query "[].id" --output tsv)" ]; then
  az ad sp create --id "$app_id" --output none
fi
az ad sp update --id "$app_id" --set appRoleAssignmentRequired=true

azd env set API_CLIENT_ID "$app_id"
echo "app-registration: API_CLIENT_ID=$app_id (app id URI api://$app_id); grant the Sign.* roles as docs/deploy.md shows"
