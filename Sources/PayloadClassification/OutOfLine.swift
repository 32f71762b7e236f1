/// Rarely set state kept out of line: one pointer inline, nothing allocated
/// until it is first set, and copied before a change when a copy of its
/// holder shares it, so holders keep value semantics. For state that most
/// flows never have, in types the flow table holds inline for every open flow.
struct OutOfLine<Value: Sendable>: Sendable {
    private final class Box: @unchecked Sendable {
        var value: Value
        init(_ value: Value) { self.value = value }
    }

    private var box: Box?

    init() {}

    /// The value, or nil when it was never set.
    var value: Value? { box?.value }

    /// Whether it was ever set (without copying it out).
    var isSet: Bool { box != nil }

    /// Lets the value go: holds nothing after (see `DirectionClassifier.releaseHeld`).
    @inline(__always)
    mutating func releaseHeld() {
        if box != nil { box = nil }
    }

    /// Changes the value, starting from `initial` when there is none yet.
    mutating func change(initial: @autoclosure () -> Value, _ body: (inout Value) -> Void) {
        if box == nil {
            box = Box(initial())
        } else if !isKnownUniquelyReferenced(&box) {
            box = box.map { Box($0.value) }
        }
        if let box { body(&box.value) }
    }
}
