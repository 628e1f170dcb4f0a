// Secret values the tests configure or send. No log line of the whole test run may contain
// any of them (tests/secrets_scan.mjs checks every captured stdout/stderr).
export const SECRETS = {
  clientBearer: 'client-secret-token-7f3a9c',
  backendApiKey: 'sk-backend-key-91b2e4d0',
};
