// Drives a running `tessera serve` with the official OpenAI Node SDK and LangChain's ChatOpenAI through every request
// feature the server claims, as a real client would use them. Each check prints "PASS name" or "FAIL name: why"; the
// exit code is the number of failures. The model has random weights: checks look at shapes, constraints and
// differences, never at what the text says.
//
//   node sdk-checks.mjs http://127.0.0.1:8000/v1 MODEL [ORIGIN]
//
// ORIGIN: an origin the server allows (--allowed-origins), for the CORS check; without it that check is skipped.
import OpenAI from "openai";
import { ChatOpenAI } from "@langchain/openai";
import { z } from "zod";

const [baseURL, model, origin] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0 });
const root = baseURL.replace(/\/v1\/?$/, "");
let failures = 0;

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

async function check(name, body) {
  try {
    await body();
    console.log(`PASS ${name}`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e?.status ?? ""} ${String(e?.message ?? e).split("\n")[0]}`);
  }
}

/** The request must be refused with a 400 that names the parameter. */
async function refused(param, request) {
  try {
    await request();
  } catch (e) {
    expect(e instanceof OpenAI.BadRequestError, `expected a 400, got ${e?.status} ${e?.message}`);
    expect(e.param === param || String(e.param ?? "").startsWith(param), `the 400 names '${e.param}', not '${param}'`);
    return;
  }
  throw new Error(`'${param}' was accepted`);
}

const weather = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string", enum: ["Paris", "Oslo", "Lima"] }, celsius: { type: "boolean" } },
      required: ["city", "celsius"],
      additionalProperties: false,
    },
  },
};
const clock = {
  type: "function",
  function: { name: "get_time", parameters: { type: "object", properties: {}, additionalProperties: false } },
};
const user = [{ role: "user", content: "What is the weather in Paris?" }];

await check("models.list names the model", async () => {
  const models = await client.models.list();
  expect(models.data.some((m) => m.id === model), JSON.stringify(models.data));
});

await check("chat: text, finish_reason and usage", async () => {
  const r = await client.chat.completions.create({ model, messages: user, max_tokens: 8, seed: 1 });
  expect(typeof r.choices[0].message.content === "string", "no content");
  expect(["stop", "length"].includes(r.choices[0].finish_reason), r.choices[0].finish_reason);
  expect(r.usage.completion_tokens >= 1 && r.usage.prompt_tokens >= 1, JSON.stringify(r.usage));
});

await check("chat stream: deltas, then usage", async () => {
  const stream = await client.chat.completions.create({ model, messages: user, max_tokens: 8, stream: true, stream_options: { include_usage: true } });
  let text = "", usage = null, finish = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta?.content ?? "";
      finish = c.finish_reason ?? finish;
    }
  }
  expect(finish && usage?.completion_tokens >= 1, `finish ${finish}, usage ${JSON.stringify(usage)}`);
});

await check("chat logprobs and top_logprobs", async () => {
  const r = await client.chat.completions.create({ model, messages: user, max_tokens: 4, logprobs: true, top_logprobs: 3, temperature: 0 });
  const content = r.choices[0].logprobs?.content;
  expect(Array.isArray(content) && content.length === r.usage.completion_tokens, JSON.stringify(r.choices[0].logprobs));
  for (const t of content) {
    expect(typeof t.token === "string" && t.logprob <= 0 && t.top_logprobs.length === 3, JSON.stringify(t));
    expect(Math.abs(t.top_logprobs[0].logprob - t.logprob) < 1e-6, "greedy: the chosen token is the most likely one");
  }
});

await check("chat logprobs in a stream", async () => {
  const stream = await client.chat.completions.create({ model, messages: user, max_tokens: 4, logprobs: true, top_logprobs: 2, stream: true });
  let count = 0;
  for await (const chunk of stream) for (const c of chunk.choices) count += c.logprobs?.content?.length ?? 0;
  expect(count >= 1, "no logprobs streamed");
});

await check("completions: logprobs and echo", async () => {
  const r = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 4, logprobs: 2, echo: true, temperature: 0 });
  const lp = r.choices[0].logprobs;
  expect(r.choices[0].text.startsWith("Once upon a time"), "echo did not prepend the prompt");
  expect(lp.tokens.length === r.usage.prompt_tokens + r.usage.completion_tokens, `${lp.tokens.length} logprob tokens`);
  expect(lp.token_logprobs[0] === null && lp.token_logprobs.slice(1).every((x) => x <= 0), "prompt logprobs");
  expect(lp.top_logprobs.length === lp.tokens.length && lp.text_offset.length === lp.tokens.length, "shapes");
});

await check("n: several choices", async () => {
  const r = await client.chat.completions.create({ model, messages: user, max_tokens: 6, n: 3, seed: 7 });
  expect(r.choices.length === 3 && r.choices.map((c) => c.index).join() === "0,1,2", JSON.stringify(r.choices.map((c) => c.index)));
});

await check("presence and frequency penalties change a repetitive answer", async () => {
  const base = { model, messages: user, max_tokens: 24, temperature: 0 };
  const plain = await client.chat.completions.create(base);
  const penalised = await client.chat.completions.create({ ...base, presence_penalty: 2, frequency_penalty: 2 });
  expect(plain.choices[0].message.content !== penalised.choices[0].message.content, "same text with and without penalties");
});

await check("logit_bias -100 removes the greedy token", async () => {
  const base = { model, prompt: "Once upon a time", max_tokens: 1, temperature: 0 };
  const first = await client.completions.create(base);
  const id = first.choices[0].token_ids?.[0];
  expect(Number.isInteger(id), "no token_ids extension to learn the id");
  const biased = await client.completions.create({ ...base, logit_bias: { [id]: -100 } });
  expect(biased.choices[0].token_ids[0] !== id, "the biased token was still chosen");
});

await check("response_format json_object gives JSON", async () => {
  const r = await client.chat.completions.create({ model, messages: user, max_tokens: 200, seed: 3, response_format: { type: "json_object" } });
  const value = JSON.parse(r.choices[0].message.content);
  expect(value !== null && typeof value === "object" && !Array.isArray(value), "not an object");
});

await check("chat.completions.parse with a json_schema", async () => {
  const schema = {
    type: "object",
    properties: { city: { type: "string", enum: ["Paris", "Oslo"] }, days: { type: "integer" }, sunny: { type: "boolean" } },
    required: ["city", "days", "sunny"],
    additionalProperties: false,
  };
  const r = await client.chat.completions.parse({
    model, messages: user, max_tokens: 200, seed: 5,
    response_format: { type: "json_schema", json_schema: { name: "forecast", schema, strict: true } },
  });
  const parsed = r.choices[0].message.parsed;
  expect(["Paris", "Oslo"].includes(parsed.city) && Number.isInteger(parsed.days) && typeof parsed.sunny === "boolean", JSON.stringify(parsed));
});

await check("tool_choice required: a call of a declared function", async () => {
  const r = await client.chat.completions.create({ model, messages: user, max_tokens: 200, seed: 2, tools: [weather, clock], tool_choice: "required" });
  const choice = r.choices[0];
  expect(choice.finish_reason === "tool_calls", choice.finish_reason);
  const call = choice.message.tool_calls?.[0];
  expect(call && ["get_weather", "get_time"].includes(call.function.name) && call.id && call.type === "function", JSON.stringify(choice.message));
  JSON.parse(call.function.arguments);
});

await check("a named tool_choice, streamed, then the tool round trip", async () => {
  const stream = await client.chat.completions.create({
    model, messages: user, max_tokens: 200, seed: 4, stream: true, tools: [weather], tool_choice: { type: "function", function: { name: "get_weather" } },
  });
  const calls = [];
  for await (const chunk of stream)
    for (const c of chunk.choices)
      for (const d of c.delta?.tool_calls ?? []) {
        calls[d.index] ??= { id: d.id, name: "", arguments: "" };
        calls[d.index].name += d.function?.name ?? "";
        calls[d.index].arguments += d.function?.arguments ?? "";
      }
  expect(calls.length === 1 && calls[0].name === "get_weather", JSON.stringify(calls));
  const args = JSON.parse(calls[0].arguments);
  expect(["Paris", "Oslo", "Lima"].includes(args.city) && typeof args.celsius === "boolean", calls[0].arguments);
  const history = [
    ...user,
    { role: "assistant", content: null, tool_calls: [{ id: calls[0].id, type: "function", function: { name: calls[0].name, arguments: calls[0].arguments } }] },
    { role: "tool", tool_call_id: calls[0].id, content: "18 degrees and sunny" },
  ];
  const answer = await client.chat.completions.create({ model, messages: history, max_tokens: 8, tools: [weather] });
  expect(typeof answer.choices[0].message.content === "string" || answer.choices[0].message.tool_calls, "no answer");
});

await check("out-of-range and unknown values are refused, naming the parameter", async () => {
  await refused("temperature", () => client.chat.completions.create({ model, messages: user, temperature: 3 }));
  await refused("presence_penalty", () => client.chat.completions.create({ model, messages: user, presence_penalty: 5 }));
  await refused("messages.[0].role", () => client.chat.completions.create({ model, messages: [{ role: "wizard", content: "hi" }] }));
  await refused("top_logprobs", () => client.chat.completions.create({ model, messages: user, logprobs: true, top_logprobs: 50 }));
  await refused("stop", () => client.chat.completions.create({ model, messages: user, stop: ["a", "b", "c", "d", "e"] }));
  await refused("tool_choice", () => client.chat.completions.create({ model, messages: user, tools: [weather], tool_choice: { type: "function", function: { name: "nope" } } }));
});

await check("GET /health and Prometheus /metrics", async () => {
  const health = await fetch(`${root}/health`);
  expect(health.status === 200, `health ${health.status}`);
  const metrics = await fetch(`${root}/metrics`);
  const text = await metrics.text();
  expect(metrics.headers.get("content-type")?.startsWith("text/plain"), metrics.headers.get("content-type"));
  expect(/^# TYPE \S+ (counter|gauge|histogram)$/m.test(text) && /_bucket\{.*le="\+Inf"/.test(text), text.slice(0, 200));
});

if (origin)
  await check("CORS for an allowed origin", async () => {
    const preflight = await fetch(`${baseURL}/chat/completions`, {
      method: "OPTIONS",
      headers: { Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type" },
    });
    expect(preflight.headers.get("access-control-allow-origin") === origin, `allow-origin ${preflight.headers.get("access-control-allow-origin")}`);
    const other = await fetch(`${baseURL}/models`, { headers: { Origin: "https://elsewhere.example" } });
    expect(other.headers.get("access-control-allow-origin") === null, "a disallowed origin was allowed");
  });

await check("LangChain: bindTools with a required call", async () => {
  const chat = new ChatOpenAI({ model, apiKey: "unused", configuration: { baseURL }, maxTokens: 200, temperature: 0, maxRetries: 0 });
  const message = await chat.bindTools([weather], { tool_choice: "required" }).invoke("Weather in Oslo?");
  expect(message.tool_calls?.[0]?.name === "get_weather" && typeof message.tool_calls[0].args.city === "string", JSON.stringify(message.tool_calls));
});

await check("LangChain: withStructuredOutput", async () => {
  const chat = new ChatOpenAI({ model, apiKey: "unused", configuration: { baseURL }, maxTokens: 200, temperature: 0, maxRetries: 0 });
  const Forecast = z.object({ city: z.enum(["Paris", "Oslo"]), sunny: z.boolean() });
  const value = await chat.withStructuredOutput(Forecast, { name: "forecast", method: "jsonSchema", strict: true }).invoke("Forecast?");
  expect(["Paris", "Oslo"].includes(value.city) && typeof value.sunny === "boolean", JSON.stringify(value));
});

console.log(failures === 0 ? "all checks passed" : `${failures} check(s) failed`);
process.exit(failures);
