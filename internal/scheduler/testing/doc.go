// Package testing holds fixture builders for scheduler tests: st.MakePod().Name("p").Req(...).Obj() and
// st.MakeNode().Name("n").Capacity(...).Obj(), so plugin tests state only what matters to them.
package testing
