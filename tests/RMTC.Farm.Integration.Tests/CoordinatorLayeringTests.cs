using System.Reflection;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Core.Merging;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// The wire stops at <c>Services/</c> (and the OpenCue endpoint): scheduling, merging and recording are written in the
/// farm's own types, so they can be read and tested without a server and the protocol can change without them.
/// </summary>
public sealed class CoordinatorLayeringTests
{
    private static readonly string[] Inner =
    [
        "RMTC.Farm.Coordinator.Scheduling",
        "RMTC.Farm.Coordinator.Runs",
        "RMTC.Farm.Coordinator.Lineage",
        "RMTC.Farm.Coordinator.Storage",
        "RMTC.Farm.Core.Merging",
    ];

    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    [Fact]
    public void No_type_in_scheduling_merging_or_recording_uses_a_generated_protobuf_type()
    {
        var wire = typeof(RMTC.Farm.Protos.V1.Job).Assembly;
        var offenders = new SortedSet<string>(StringComparer.Ordinal);
        var inner = new[] { typeof(FarmScheduler).Assembly, typeof(FedAvgAccumulator).Assembly }
            .SelectMany(a => a.GetTypes())
            .Where(t => Inner.Any(ns => t.Namespace == ns || t.Namespace?.StartsWith(ns + ".", StringComparison.Ordinal) == true))
            .ToList();
        Assert.NotEmpty(inner);

        foreach (var type in inner)
        {
            // Closures and async state machines are nested types of the same namespace, so their captured and hoisted
            // variables are checked here too; locals are read from each method body.
            var used = new List<(string Where, Type Type)>();
            if (type.BaseType is { } baseType)
            {
                used.Add(("base", baseType));
            }

            used.AddRange(type.GetInterfaces().Select(i => ("interface", i)));
            used.AddRange(type.GetFields(Declared).Select(f => (f.Name, f.FieldType)));
            used.AddRange(type.GetProperties(Declared).Select(p => (p.Name, p.PropertyType)));
            foreach (var method in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)))
            {
                if (method is MethodInfo info)
                {
                    used.Add((method.Name, info.ReturnType));
                }

                used.AddRange(method.GetParameters().Select(p => ($"{method.Name}({p.Name})", p.ParameterType)));
                if (method.GetMethodBody() is { } body)
                {
                    used.AddRange(body.LocalVariables.Select(l => ($"{method.Name} local", l.LocalType)));
                }
            }

            foreach (var (where, t) in used)
            {
                if (Mentions(t, wire))
                {
                    offenders.Add($"{type.FullName}.{where}: {t}");
                }
            }
        }

        Assert.True(offenders.Count == 0, "wire types inside the core (map them in Services/Wire):\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void The_check_sees_a_wire_type_where_there_is_one()
    {
        // The service at the edge does use them; without this the test above could pass by looking at nothing.
        var wire = typeof(RMTC.Farm.Protos.V1.Job).Assembly;
        var edge = typeof(RMTC.Farm.Coordinator.Services.JobGrpcService);
        Assert.Contains(edge.GetMethods(Declared), m => Mentions(m.ReturnType, wire));
    }

    private static bool Mentions(Type type, Assembly wire)
    {
        if (type.HasElementType)
        {
            return Mentions(type.GetElementType()!, wire);
        }

        return type.Assembly == wire || (type.IsGenericType && type.GetGenericArguments().Any(a => Mentions(a, wire)));
    }
}
