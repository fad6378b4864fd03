using System;

namespace Microsoft.Azure.WebJobs.Script.Workers.Rpc
{
    /// <summary>
    /// What the Functions host throws when a language worker reports a failed invocation. The Durable
    /// extension recognises it by this type and assembly name and reads <see cref="RemoteMessage"/> for
    /// the failure text; the message format is the host's ("Result: ...\nException: ...\nStack: ...").
    /// </summary>
    public class RpcException : Exception
    {
        public RpcException(string result, string message, string stack, string typeName = "", bool isUserException = false)
            : base($"Result: {result}\nException: {message}\nStack: {stack}")
        {
            RemoteStackTrace = stack;
            RemoteMessage = message;
            RemoteTypeName = typeName;
            IsUserException = isUserException;
        }

        public bool IsUserException { get; set; }

        public string RemoteStackTrace { get; set; }

        public string RemoteMessage { get; set; }

        public string RemoteTypeName { get; set; }
    }
}
