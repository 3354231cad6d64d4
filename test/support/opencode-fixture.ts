// OpenCode configuration that points a real opencode at the fake OpenAI-compatible model server.
export function fakeOpenCodeConfig(baseURL: string): Record<string, unknown> {
  return {
    provider: {
      fake: {
        npm: '@ai-sdk/openai-compatible',
        name: 'Fake',
        options: { baseURL, apiKey: 'test-key' },
        // USD per million tokens, so that OpenCode really computes a non-zero cost
        models: { m: { name: 'Fake model', tool_call: true, cost: { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 } } },
      },
    },
    small_model: 'fake/m',
    enabled_providers: ['fake'],
  };
}
