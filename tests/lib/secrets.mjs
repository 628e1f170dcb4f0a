// Secret values the tests configure or send. No log line of the whole test run may contain
// any of them (tests/secrets_scan.mjs checks every captured stdout/stderr).
export const SECRETS = {
  clientBearer: 'client-secret-token-7f3a9c',
  backendApiKey: 'sk-backend-key-91b2e4d0',
  // kube_controller.test.mjs: service-account tokens and API keys held in cluster Secrets.
  kubeToken: 'kube-sa-token-4c1e8a',
  kubeRotatedToken: 'kube-sa-token-rotated-9d2f7b',
  kubeReplicaToken: 'kube-replica-token-3a6e0c',
  kubeFirstApiKey: 'sk-kube-first-5b8d1f',
  kubeSecondApiKey: 'sk-kube-second-2e7c4a',
  // chat_on_anthropic.test.mjs: the Anthropic key of a BackendSecurityPolicy.
  anthropicApiKey: 'sk-ant-backend-key-6c2f90',
  // azure_openai.test.mjs: the api-key of an AzureAPIKey policy.
  azureApiKey: 'azure-backend-key-1d7e35',
  // azure_credentials.test.mjs: an Entra ID client secret and the access tokens issued for it.
  azureClientSecret: 'entra-client-secret~9f3b27',
  azureAccessToken1: 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.entra-token-one.c29d',
  azureAccessToken2: 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.entra-token-two.7a41',
};
