using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.IR;

namespace Tessera.Generator.Passes;

/// <summary>A reusable activation buffer: it holds (T, width) for the widest value ever placed in it.</summary>
internal sealed class BufferSlot(string name)
{
    /// <summary>A placeholder while the plan is made; then named by what it holds (see <see cref="BufferPlan.Run"/>).</summary>
    public string Name { get; set; } = name;

    public List<SizeExpr> Widths { get; } = new();

    public List<string> Holds { get; } = new();
}

/// <summary>
/// Where each value of a graph lives. Slots are reused as soon as the values in them are dead (linear scan over the
/// kernel order); element-wise kernels and in-place Rope may write over an input that dies with them. A block's input
/// and output are the caller's buffers (the residual stream), never slots of the block.
/// </summary>
internal sealed class BufferPlan
{
    private readonly Dictionary<IrValue, string> _location = new();

    public List<BufferSlot> Slots { get; } = new();

    public string this[IrValue value] => _location[value];

    /// <summary>Where <paramref name="value"/> lives, or null for a value with no buffer of the module (a router's choice).</summary>
    public string? Find(IrValue value) => _location.TryGetValue(value, out var name) ? name : null;

    /// <summary>The routings of the graph's Route kernels, in order: each is an engine field (an ExpertRouter) named by its location.</summary>
    public List<IrValue> Routers { get; } = new();

    /// <summary>For a Layers output: the spare buffer the loop ping-pongs with (the output itself is a local).</summary>
    public Dictionary<IrValue, string> LayerSpare { get; } = new();

    /// <summary>Members of an engine that are not slots: a slot never takes one of these names.</summary>
    private static readonly string[] EngineMembers =
    [
        "_rank", "_weights", "_layers", "_weightBytes", "_gate", "_workspaceRows", "_headRows", "_localLogits", "_engine", "_gpu",
        "_expertLoad", "_expertWorkspaceRows", "_router",
    ];

    /// <param name="prefix">the module's prefix ("_model", "_block"), for a slot whose name another module took</param>
    /// <param name="inputName">expression for the graph input</param>
    /// <param name="resultName">forced location of the result, or null for a fresh slot</param>
    /// <param name="taken">slot names of the engine so far (its modules' slots are fields of one class); this plan's are added</param>
    public static BufferPlan Run(IrGraph graph, IReadOnlyList<Kernel> kernels, string prefix, string inputName, string? resultName,
        ISet<string> taken)
    {
        var plan = new BufferPlan();
        plan._location[graph.Input] = inputName;
        var lastUse = new Dictionary<IrValue, int>();
        for (int k = 0; k < kernels.Count; k++)
            foreach (var v in kernels[k].Inputs) lastUse[v] = k;

        var owner = new Dictionary<BufferSlot, List<IrValue>>();
        var free = new List<BufferSlot>();

        // A value takes the slot given, else a free one (of its width first), else a new one.
        BufferSlot TakeSlot(IrValue value, BufferSlot? slot = null)
        {
            slot ??= free.FirstOrDefault(s => s.Widths.Any(w => w.ToString() == value.Width.ToString())) ?? free.FirstOrDefault();
            if (slot is null)
            {
                slot = new BufferSlot(prefix + plan.Slots.Count);
                plan.Slots.Add(slot);
                owner[slot] = new List<IrValue>();
            }
            free.Remove(slot);
            owner[slot].Add(value);
            if (!slot.Widths.Any(w => w.ToString() == value.Width.ToString())) slot.Widths.Add(value.Width);
            slot.Holds.Add(value.Name);
            plan._location[value] = slot.Name;
            return slot;
        }

        // The sides of a Select that only it reads are computed into its buffer: whichever side runs leaves the value
        // there, and the Select itself has nothing to do. Its buffer is taken when the first side is computed.
        var sideOf = SelectSides(graph, kernels);
        string SelectLocation(IrValue select)
        {
            if (plan._location.TryGetValue(select, out var location)) return location;
            if (sideOf.TryGetValue(select, out var outer)) location = SelectLocation(outer);
            else if (select == graph.Result && resultName is not null) location = resultName;
            else location = TakeSlot(select).Name;
            plan._location[select] = location;
            return location;
        }

        for (int k = 0; k < kernels.Count; k++)
        {
            var kernel = kernels[k];
            var output = kernel.Output;
            var dying = kernel.Inputs.Where(v => lastUse[v] == k && v != graph.Input).ToList();

            if (kernel.IsHead)
            {
                plan._location[output] = "logits";
            }
            else if (sideOf.TryGetValue(output, out var select))
            {
                var location = SelectLocation(select);
                plan._location[output] = location;
                if (plan.Slots.FirstOrDefault(s => s.Name == location) is { } slot && !slot.Holds.Contains(output.Name)) slot.Holds.Add(output.Name);
            }
            else if (kernel.Kind == KernelKind.Select && plan._location.ContainsKey(output))
            {
                // Computed into by its sides.
            }
            else if (kernel.Kind == KernelKind.Route)
            {
                // A routing is not activations: it lives in the engine's router (one per Route of the graph).
                int routers = plan._location.Values.Count(l => l.StartsWith("_router", System.StringComparison.Ordinal));
                plan._location[output] = routers == 0 ? "_router" : "_router" + (routers + 1);
                plan.Routers.Add(output);
            }
            else if (output == graph.Result && resultName is not null)
            {
                plan._location[output] = resultName;
            }
            else if (kernel.Kind == KernelKind.Rope && kernel.InPlace)
            {
                plan._location[output] = plan._location[kernel.Anchor.Inputs[0]];
                var slot = plan.Slots.FirstOrDefault(s => s.Name == plan._location[output]);
                if (slot is not null) owner[slot].Add(output);
            }
            else
            {
                BufferSlot? slot = null;
                // An element-wise pass may overwrite an operand that dies here: it reads index i before writing it.
                // Only an operand that the kernel's first node alone reads, once: later in-place steps must not read it.
                if (kernel.Kind == KernelKind.Elementwise)
                    slot = dying.Where(v => kernel.Nodes.Count(n => n.Inputs.Contains(v)) == 1 && kernel.Anchor.Inputs.Count(i => i == v) == 1)
                        .Select(v => plan.Slots.FirstOrDefault(s => s.Name == plan._location[v])).FirstOrDefault(s => s is not null && owner[s].All(dying.Contains));
                TakeSlot(output, slot);
            }

            // The layers loop ping-pongs between its input's buffer and its output's: the input's slot stays taken
            // for as long as the output lives.
            if (kernel.Kind == KernelKind.Layers)
            {
                plan.LayerSpare[output] = plan._location[output];
                plan._location[output] = output.Name;
                var inputSlot = plan.Slots.FirstOrDefault(s => s.Name == plan._location[kernel.Anchor.Inputs[0]]);
                if (inputSlot is not null) owner[inputSlot].Add(output);
            }

            foreach (var v in dying)
            {
                foreach (var slot in plan.Slots.Where(s => owner[s].Contains(v)))
                {
                    owner[slot].Remove(v);
                    if (owner[slot].Count == 0 && !free.Contains(slot)) free.Add(slot);
                }
            }
            // A value nobody reads (dead output of a kernel) frees its slot at once.
            if (!lastUse.ContainsKey(output) && output != graph.Result)
                foreach (var slot in plan.Slots.Where(s => owner[s].Contains(output)).ToList())
                {
                    owner[slot].Remove(output);
                    if (owner[slot].Count == 0 && !free.Contains(slot)) free.Add(slot);
                }
        }
        plan.NameSlots(prefix, taken);
        return plan;
    }

    /// <summary>
    /// The values computed straight into a Select's buffer (side value to the Select's output): both sides of a Select
    /// whose sides only it reads, each made by a kernel that can write anywhere (not a router's choice, an in-place
    /// RoPE, the layers loop or the head).
    /// </summary>
    private static Dictionary<IrValue, IrValue> SelectSides(IrGraph graph, IReadOnlyList<Kernel> kernels)
    {
        var made = kernels.ToDictionary(k => k.Output);
        var sides = new Dictionary<IrValue, IrValue>();
        foreach (var kernel in kernels.Where(k => k.Kind == KernelKind.Select))
        {
            var inputs = kernel.Anchor.Inputs;
            bool free = inputs[0] != inputs[1] && inputs.All(side => side.Consumers.Count == 1 && made.TryGetValue(side, out var maker)
                && !maker.IsHead && maker.Kind is not (KernelKind.Route or KernelKind.Layers) && !(maker.Kind == KernelKind.Rope && maker.InPlace));
            if (free) foreach (var side in inputs) sides[side] = kernel.Output;
        }
        return sides;
    }

    /// <summary>
    /// Names each slot by the values it holds, in the order they take it: "_qOutX2" holds qOut, then x2 (up to three
    /// names; the field's comment lists them all). A name the engine already uses gets the module's prefix
    /// ("_blockX2"), then a number. Names depend only on the graph, so they are stable from build to build.
    /// </summary>
    private void NameSlots(string prefix, ISet<string> taken)
    {
        var renamed = new Dictionary<string, string>();
        foreach (var slot in Slots)
        {
            string held = string.Concat(slot.Holds.Distinct().Take(3).Select((name, i) => i == 0 ? name : Capitalised(name)));
            string name = "_" + held;
            if (taken.Contains(name) || EngineMembers.Contains(name) || name.StartsWith("_router", System.StringComparison.Ordinal))
                name = prefix + Capitalised(held);
            for (int n = 2; taken.Contains(name); n++) name = prefix + Capitalised(held) + n;
            taken.Add(name);
            renamed[slot.Name] = name;
            slot.Name = name;
        }
        foreach (var value in _location.Keys.ToList())
            if (renamed.TryGetValue(_location[value], out var name)) _location[value] = name;
        foreach (var value in LayerSpare.Keys.ToList())
            if (renamed.TryGetValue(LayerSpare[value], out var name)) LayerSpare[value] = name;
    }

    private static string Capitalised(string name) => name.Length == 0 ? name : char.ToUpperInvariant(name[0]) + name.Substring(1);
}
