// The conformance host: Microsoft's Durable Task extension (the real engine) in a plain WebJobs SDK host,
// running the app's own Node orchestrators and activities. Nothing here is app-specific: at start it asks
// the Node worker (local/conformance/worker.ts) for its functions and generates one WebJobs function per
// orchestrator and activity, each forwarding its trigger payload over loopback HTTP. A small control API
// (start, status with history, raise event, terminate) lets the harness drive it.
//
// Usage: ConformanceHost --worker http://127.0.0.1:<port>/ --hub <taskHub> [--host-json <path>] [--control-port <n>] [--exit-with-stdin 1]
//        [--local-rpc 1]   (the extension's own HTTP API for Node durable clients, at http://127.0.0.1:17071/durabletask/;
//        its management links under REAL_ENGINE_WEBHOOK_BASE from the environment, as the Functions host gives it: it
//        carries the system key, so it never goes on a command line other users' `ps` shows)
// Storage: the AzureWebJobsStorage environment variable (Azurite). Prints "READY <control port>" when started.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Reflection;
using System.Reflection.Emit;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Azure.WebJobs;
using Microsoft.Azure.WebJobs.Extensions.DurableTask;
using Microsoft.Azure.WebJobs.Extensions.DurableTask.ContextImplementations;
using Microsoft.Azure.WebJobs.Extensions.DurableTask.Options;
using Microsoft.Azure.WebJobs.Host.Config;
using Microsoft.Azure.WebJobs.Script.Workers.Rpc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace ConformanceHost
{
    /// <summary>The body of every generated function: one loopback call to the Node worker.</summary>
    public static class Forwarder
    {
        internal static HttpClient Http;
        internal static string WorkerBase;

        // JSON from the worker keeps date-like strings as strings (no DateTime round trip).
        internal static readonly JsonSerializerSettings Verbatim = new JsonSerializerSettings { DateParseHandling = DateParseHandling.None };

        public static async Task<string> Orchestrate(string name, string context)
        {
            // ConfigureAwait(false) throughout: the extension blocks on this task (task.Result), so resuming on
            // its thread would deadlock.
            var (ok, body) = await Post("orchestrator/" + Uri.EscapeDataString(name), context).ConfigureAwait(false);
            if (ok) return body;
            throw Failure(body);
        }

        public static async Task<object> Activity(string name, IDurableActivityContext context)
        {
            // As the Functions host binds an out-of-proc activity: the input as a string (JSON text for objects and
            // arrays, the raw value for a JSON string), which the Node.js worker JSON-parses when it parses.
            string input = context.GetInput<string>();
            var request = new JObject { ["instanceId"] = context.InstanceId, ["input"] = input };
            var (ok, body) = await Post("activity/" + Uri.EscapeDataString(name), request.ToString(Formatting.None)).ConfigureAwait(false);
            if (!ok) throw Failure(body);
            var reply = JsonConvert.DeserializeObject<JObject>(body, Verbatim);
            // An activity that returns nothing gives the host no return value.
            return reply.TryGetValue("result", out JToken result) ? result : null;
        }

        private static async Task<(bool, string)> Post(string path, string json)
        {
            using var content = new StringContent(json, Encoding.UTF8, "application/json");
            using var response = await Http.PostAsync(WorkerBase + path, content).ConfigureAwait(false);
            string body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
            return (response.IsSuccessStatusCode, body);
        }

        /// <summary>What the Functions host throws for a failed worker invocation (message and stack from the worker).</summary>
        private static Exception Failure(string body)
        {
            JObject error;
            try { error = JsonConvert.DeserializeObject<JObject>(body, Verbatim); }
            catch (JsonException) { return new InvalidOperationException("worker answered: " + body); }
            return new RpcException("Failure", (string)error["message"] ?? "", (string)error["stack"] ?? "");
        }
    }

    /// <summary>Warnings and errors of the host and the extension on stderr (the harness shows them when a run fails).</summary>
    internal sealed class StderrLoggerProvider : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;
        public void Dispose() { }
        public IDisposable BeginScope<TState>(TState state) => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception exception, Func<TState, Exception, string> formatter)
        {
            if (IsEnabled(logLevel)) Console.Error.WriteLine($"[{logLevel}] {formatter(state, exception)}");
        }
    }

    /// <summary>The Functions host's webhook URL for the extension: `<origin>/runtime/webhooks/durabletask?code=<system key>`.</summary>
    internal sealed class FixedWebHookProvider : IWebHookProvider
    {
        private readonly Uri url;
        public FixedWebHookProvider(Uri url) { this.url = url; }
        public Uri GetUrl(IExtensionConfigProvider extension) => url;
    }

    internal sealed class FixedTypeLocator : ITypeLocator
    {
        private readonly IReadOnlyList<Type> types;
        public FixedTypeLocator(params Type[] types) { this.types = types; }
        public IReadOnlyList<Type> GetTypes() => types;
    }

    public static class Program
    {
        public static async Task<int> Main(string[] args)
        {
            var options = ParseArgs(args);
            string worker = Required(options, "worker").TrimEnd('/') + "/";
            string hub = Required(options, "hub");
            if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AzureWebJobsStorage")))
            {
                Console.Error.WriteLine("ConformanceHost: AzureWebJobsStorage (the Azurite connection string) is not set");
                return 2;
            }
            // The extension speaks the out-of-proc (JavaScript) protocol when the worker runtime is node.
            Environment.SetEnvironmentVariable("FUNCTIONS_WORKER_RUNTIME", "node");

            // No orphans: the harness holds our stdin; when it closes (the harness exited, even killed), so do we.
            if (options.ContainsKey("exit-with-stdin"))
            {
                _ = Task.Run(() =>
                {
                    while (Console.In.ReadLine() != null) { }
                    Environment.Exit(0);
                });
            }

            Forwarder.Http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromMinutes(5) };
            Forwarder.WorkerBase = worker;
            var functions = JsonConvert.DeserializeObject<List<FunctionInfo>>(await Forwarder.Http.GetStringAsync(worker + "functions"));
            Type generated = GenerateFunctions(functions);

            JObject durableJson = options.TryGetValue("host-json", out string hostJsonPath)
                ? (JObject)JObject.Parse(File.ReadAllText(hostJsonPath)).SelectToken("extensions.durableTask")
                : null;

            var host = new HostBuilder()
                .ConfigureLogging(l => l.AddProvider(new StderrLoggerProvider()))
                .ConfigureWebJobs(b => b.AddDurableTask(o => ConfigureDurable(o, durableJson, hub, options.ContainsKey("local-rpc"))))
                .ConfigureServices(s =>
                {
                    s.AddSingleton<ITypeLocator>(new FixedTypeLocator(generated));
                    // A plain WebJobs host has no webhook provider (the Functions host gives one): without it, starting an
                    // instance over the extension's HTTP API fails building the management links of its answer.
                    string webhookBase = Environment.GetEnvironmentVariable("REAL_ENGINE_WEBHOOK_BASE");
                    if (!string.IsNullOrEmpty(webhookBase))
                        s.AddSingleton<IWebHookProvider>(new FixedWebHookProvider(new Uri(webhookBase)));
                })
                .Build();
            await host.StartAsync();
            var clientFactory = host.Services.GetRequiredService<IDurableClientFactory>();
            IDurableClient client = clientFactory.CreateClient(new DurableClientOptions
            {
                ConnectionName = "AzureWebJobsStorage",
                TaskHub = hub,
                IsExternalClient = false,
            });

            int port = options.TryGetValue("control-port", out string p) ? int.Parse(p) : FreePort();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            listener.Start();
            Console.WriteLine($"READY {port}");
            Console.Out.Flush();
            while (true)
            {
                HttpListenerContext ctx = await listener.GetContextAsync();
                _ = Task.Run(() => Serve(ctx, client));
            }
        }

        private sealed class FunctionInfo
        {
            public string name = "";
            public string kind = "";
        }

        private static void ConfigureDurable(DurableTaskOptions o, JObject durableJson, string hub, bool localRpc)
        {
            // host.json's durableTask section as the Functions host would bind it, then the harness's own hub.
            if (durableJson != null)
            {
                var copy = (JObject)durableJson.DeepClone();
                var storage = copy["storageProvider"] as JObject;
                copy.Remove("storageProvider");
                JsonConvert.PopulateObject(copy.ToString(), o);
                if (storage != null)
                {
                    foreach (var pair in storage) o.StorageProvider[pair.Key] = pair.Value.ToObject<object>();
                }
            }
            o.HubName = hub;
            o.StorageProvider["connectionStringName"] = "AzureWebJobsStorage";
            // Poll Azurite's queues often (the Azure default backs off to 30 s when idle).
            o.StorageProvider["maxQueuePollingInterval"] = "00:00:01";
            // The harness starts and reads instances through its own control API; the local runtime on this engine
            // (npm run local -- --engine real) gives the app's durable clients the extension's own endpoint, as Azure does.
            o.LocalRpcEndpointEnabled = localRpc;

        }

        /// <summary>One static method per Node function, with the trigger attribute the extension indexes.</summary>
        private static Type GenerateFunctions(List<FunctionInfo> functions)
        {
            var assembly = AssemblyBuilder.DefineDynamicAssembly(new AssemblyName("ConformanceFunctions"), AssemblyBuilderAccess.Run);
            var module = assembly.DefineDynamicModule("ConformanceFunctions");
            var type = module.DefineType("ConformanceFunctions.Generated",
                TypeAttributes.Public | TypeAttributes.Abstract | TypeAttributes.Sealed | TypeAttributes.Class);
            var functionName = typeof(FunctionNameAttribute).GetConstructor(new[] { typeof(string) });
            int index = 0;
            foreach (var fn in functions)
            {
                bool orchestrator = fn.kind == "orchestration";
                if (!orchestrator && fn.kind != "activity") continue;
                var method = type.DefineMethod($"F{index++}", MethodAttributes.Public | MethodAttributes.Static,
                    orchestrator ? typeof(Task<string>) : typeof(Task<object>),
                    new[] { orchestrator ? typeof(string) : typeof(IDurableActivityContext) });
                method.SetCustomAttribute(new CustomAttributeBuilder(functionName, new object[] { fn.name }));
                var parameter = method.DefineParameter(1, ParameterAttributes.None, "context");
                var trigger = orchestrator ? typeof(OrchestrationTriggerAttribute) : typeof(ActivityTriggerAttribute);
                parameter.SetCustomAttribute(new CustomAttributeBuilder(trigger.GetConstructor(Type.EmptyTypes), Array.Empty<object>()));
                var il = method.GetILGenerator();
                il.Emit(OpCodes.Ldstr, fn.name);
                il.Emit(OpCodes.Ldarg_0);
                il.Emit(OpCodes.Call, typeof(Forwarder).GetMethod(orchestrator ? nameof(Forwarder.Orchestrate) : nameof(Forwarder.Activity)));
                il.Emit(OpCodes.Ret);
            }
            return type.CreateType();
        }

        private static async Task Serve(HttpListenerContext ctx, IDurableClient client)
        {
            int status = 200;
            JToken reply;
            try
            {
                string[] parts = ctx.Request.Url.AbsolutePath.Trim('/').Split('/').Select(Uri.UnescapeDataString).ToArray();
                string body = await new StreamReader(ctx.Request.InputStream, Encoding.UTF8).ReadToEndAsync();
                JToken payload = body.Length == 0 ? null : JsonConvert.DeserializeObject<JToken>(body, Forwarder.Verbatim);
                string query(string key) => ctx.Request.QueryString[key];
                switch (parts[0])
                {
                    case "start":
                        string id = await client.StartNewAsync(parts[1], query("instanceId") ?? "", payload);
                        reply = new JObject { ["id"] = id };
                        break;
                    case "status":
                        var s = await client.GetStatusAsync(parts[1], showHistory: true, showHistoryOutput: true, showInput: true);
                        reply = s == null ? null : StatusJson(s);
                        if (s == null) status = 404;
                        break;
                    case "raise":
                        await client.RaiseEventAsync(parts[1], parts[2], payload);
                        reply = new JObject();
                        break;
                    case "terminate":
                        await client.TerminateAsync(parts[1], query("reason"));
                        reply = new JObject();
                        break;
                    case "exit":
                        // The storage is thrown away; a graceful WebJobs shutdown would take ~25 s.
                        Respond(ctx, 200, new JObject());
                        Environment.Exit(0);
                        return;
                    default:
                        status = 404;
                        reply = new JObject { ["error"] = "unknown route" };
                        break;
                }
            }
            catch (Exception e)
            {
                status = 500;
                reply = new JObject { ["error"] = e.ToString() };
            }
            Respond(ctx, status, reply);
        }

        private static JObject StatusJson(DurableOrchestrationStatus s) => new JObject
        {
            ["name"] = s.Name,
            ["instanceId"] = s.InstanceId,
            ["runtimeStatus"] = s.RuntimeStatus.ToString(),
            ["input"] = s.Input,
            ["output"] = s.Output,
            ["customStatus"] = s.CustomStatus,
            ["createdTime"] = s.CreatedTime.ToUniversalTime().ToString("o"),
            ["lastUpdatedTime"] = s.LastUpdatedTime.ToUniversalTime().ToString("o"),
            ["history"] = s.History,
        };

        private static void Respond(HttpListenerContext ctx, int status, JToken reply)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(JsonConvert.SerializeObject(reply, new JsonSerializerSettings { DateFormatString = "yyyy-MM-ddTHH:mm:ss.FFFFFFFK" }));
            ctx.Response.StatusCode = status;
            ctx.Response.ContentType = "application/json";
            ctx.Response.ContentLength64 = bytes.Length;
            ctx.Response.OutputStream.Write(bytes, 0, bytes.Length);
            ctx.Response.Close();
        }

        private static int FreePort()
        {
            var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
            l.Start();
            int port = ((IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            return port;
        }

        private static Dictionary<string, string> ParseArgs(string[] args)
        {
            var result = new Dictionary<string, string>();
            for (int i = 0; i + 1 < args.Length; i += 2)
            {
                if (!args[i].StartsWith("--")) throw new ArgumentException($"expected --name value, got '{args[i]}'");
                result[args[i].Substring(2)] = args[i + 1];
            }
            return result;
        }

        private static string Required(Dictionary<string, string> options, string name)
        {
            if (!options.TryGetValue(name, out string value) || value.Length == 0)
                throw new ArgumentException($"--{name} is required");
            return value;
        }
    }
}
