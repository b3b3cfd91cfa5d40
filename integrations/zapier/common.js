'use strict';

// What every request shares: the gateway's base URL (it is self-hosted: the connection asks
// for it) and the API key as a Bearer token; errors in the gateway's one shape become messages.

const baseUrl = (bundle) => String(bundle.authData.base_url || '').replace(/\/+$/, '');

const addApiKey = (request, z, bundle) => {
  if (bundle.authData && bundle.authData.api_key) {
    request.headers = request.headers || {};
    request.headers.Authorization = `Bearer ${bundle.authData.api_key}`;
  }
  return request;
};

// {"error": {"code", "message", "details"}} → a Zapier error a user can read.
const explainErrors = (response, z) => {
  if (response.status < 400 || response.skipThrowForStatus) {
    return response;
  }
  let error = {};
  try {
    error = (response.json && response.json.error) || {};
  } catch (e) {
    error = {};
  }
  const message = error.message || `The gateway answered HTTP ${response.status}`;
  if (response.status === 401) {
    throw new z.errors.Error(message, 'AuthenticationError', response.status);
  }
  throw new z.errors.Error(message, error.code || 'GatewayError', response.status);
};

module.exports = { addApiKey, baseUrl, explainErrors };
